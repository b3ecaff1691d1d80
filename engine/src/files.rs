//! Input files: one walk of the project tree (honouring `.gitignore`), glob selection per
//! step (honouring `.dockerignore`), a persistent stat cache and parallel blake3 hashing.
//! (Skeleton: filled in by the hashing work.)

/// Problems reading input files. (Skeleton.)
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FilesError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(forge::files::io))]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
