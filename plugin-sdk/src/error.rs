//! The one error type a plugin returns: a message, an optional help line, and — when the
//! error came from reading a file — the host's precise answer.
//!
//! It crosses the WIT boundary as `step-error { message, help }`, so it stays a plain value
//! (no backtraces, no source chains) and every conversion decides its wording here, once.

use std::fmt;

/// Why a declared-input read failed, exactly as the host answered (`files.file-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// The path is not one of the step's declared inputs. The host never reads it.
    NotDeclared(String),
    /// Declared, but gone since the step was fingerprinted.
    NotFound(String),
    /// Larger than the host's per-read cap.
    TooLarge(String),
    /// Any other I/O failure, with the host's description.
    Io(String),
}

impl FileError {
    /// The stable kebab-case name of the variant, as in the WIT (`not-declared`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            FileError::NotDeclared(_) => "not-declared",
            FileError::NotFound(_) => "not-found",
            FileError::TooLarge(_) => "too-large",
            FileError::Io(_) => "io",
        }
    }

    /// The detail the host attached (the path, or the I/O description).
    pub fn detail(&self) -> &str {
        match self {
            FileError::NotDeclared(s)
            | FileError::NotFound(s)
            | FileError::TooLarge(s)
            | FileError::Io(s) => s,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotDeclared(p) => {
                write!(f, "`{p}` is not one of this step's declared inputs")
            }
            FileError::NotFound(p) => write!(f, "declared input `{p}` no longer exists"),
            FileError::TooLarge(p) => {
                write!(f, "declared input `{p}` is larger than the host's read cap")
            }
            FileError::Io(e) => write!(f, "reading a declared input failed: {e}"),
        }
    }
}

impl std::error::Error for FileError {}

/// A failed step: what went wrong and, when the plugin knows, how to fix it.
///
/// Build one with [`Error::new`], [`bail!`](crate::bail), `?` on anything with a `From`
/// conversion below, or [`ResultExt`] to add context and help to a foreign error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    help: Option<String>,
    file: Option<FileError>,
}

impl Error {
    /// An error with this message and no help.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            help: None,
            file: None,
        }
    }

    /// Adds (or replaces) the line that tells the user how to fix it.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The message shown as the step's failure.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How to fix it, if known.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The host's answer, when this error came from [`Context::read`](crate::Context::read).
    pub fn file_error(&self) -> Option<&FileError> {
        self.file.as_ref()
    }

    /// Prefixes the message with what the plugin was doing (`"rendering main.tf: ..."`).
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<FileError> for Error {
    fn from(e: FileError) -> Self {
        let help = match &e {
            FileError::NotDeclared(_) => Some(
                "declare it on the step in project.kdl with an `input \"GLOB\"` line, or read only `ctx.inputs()`",
            ),
            FileError::NotFound(_) => Some("the file changed while forge ran; run the build again"),
            FileError::TooLarge(_) => Some("split the input, or read it in a step that streams it"),
            FileError::Io(_) => None,
        };
        Error {
            message: e.to_string(),
            help: help.map(str::to_owned),
            file: Some(e),
        }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::new(message)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::new(format!("JSON: {e}"))
    }
}

impl From<std::string::FromUtf8Error> for Error {
    fn from(e: std::string::FromUtf8Error) -> Self {
        Error::new(format!("not UTF-8: {e}"))
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(e: std::str::Utf8Error) -> Self {
        Error::new(format!("not UTF-8: {e}"))
    }
}

impl From<std::fmt::Error> for Error {
    fn from(_: std::fmt::Error) -> Self {
        Error::new("formatting failed")
    }
}

impl From<std::num::ParseIntError> for Error {
    fn from(e: std::num::ParseIntError) -> Self {
        Error::new(format!("not an integer: {e}"))
    }
}

/// Adds context or help to any `Result` whose error converts into [`Error`].
///
/// ```
/// use forge_plugin_sdk::{Error, ResultExt};
/// fn port(s: &str) -> Result<u16, Error> {
///     s.parse::<u16>()
///         .map_err(|e| Error::new(e.to_string()))
///         .context(format!("port `{s}`"))
///         .help("ports are integers from 1 to 65535")
/// }
/// let err = port("http").unwrap_err();
/// assert!(err.message().starts_with("port `http`: "));
/// assert_eq!(err.help(), Some("ports are integers from 1 to 65535"));
/// ```
pub trait ResultExt<T> {
    /// Prefixes the error's message with what was being done.
    fn context(self, what: impl fmt::Display) -> Result<T, Error>;
    /// Sets the error's help line.
    fn help(self, help: impl Into<String>) -> Result<T, Error>;
}

impl<T, E: Into<Error>> ResultExt<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T, Error> {
        self.map_err(|e| e.into().context(what))
    }

    fn help(self, help: impl Into<String>) -> Result<T, Error> {
        self.map_err(|e| e.into().with_help(help))
    }
}

/// Returns early with an [`Error`] built from a format string.
///
/// ```
/// # use forge_plugin_sdk::{bail, Error};
/// fn check(replicas: u32) -> Result<(), Error> {
///     if replicas == 0 {
///         bail!("`replicas` must be at least 1, got {replicas}");
///     }
///     Ok(())
/// }
/// assert!(check(0).is_err());
/// ```
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return ::core::result::Result::Err($crate::Error::new(::std::format!($($arg)*)))
    };
}

/// Returns early with an [`Error`] unless the condition holds.
///
/// ```
/// # use forge_plugin_sdk::{ensure, Error};
/// fn check(name: &str) -> Result<(), Error> {
///     ensure!(!name.is_empty(), "`name` must not be empty");
///     Ok(())
/// }
/// assert_eq!(check("").unwrap_err().message(), "`name` must not be empty");
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::bail!($($arg)*);
        }
    };
}
