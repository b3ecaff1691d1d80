//! The content-addressed store: action cache (fingerprint → output manifest), blobs by
//! hash, run history per env. (Skeleton: filled in by the store work.)

/// Problems with the store. (Skeleton.)
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    #[error("store I/O error at {path}: {source}")]
    #[diagnostic(code(forge::store::io))]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
