//! The plugin host against real compiled fixture plugins: what runs, what is refused, what
//! is stopped, and the compiled-component cache.

mod cache;
mod fixtures;
mod hostile;
mod run;
