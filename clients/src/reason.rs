//! Why a call failed, in a few words: what the clients put in their errors.

use std::error::Error as StdError;

/// Why a connection failed, in a few words (`connection refused`), when an I/O error in
/// `error`'s source chain says so.
pub(crate) fn connect_reason(error: &(dyn StdError + 'static)) -> Option<String> {
    use std::io::ErrorKind;
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let reason = match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                ErrorKind::NotFound => "no such socket".to_owned(),
                ErrorKind::PermissionDenied => "permission denied".to_owned(),
                ErrorKind::TimedOut => "timed out".to_owned(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                    "the connection was reset".to_owned()
                }
                ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
                    "no route to host".to_owned()
                }
                _ => io.to_string(),
            };
            return Some(reason);
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Some("the host name does not resolve".to_owned());
        }
        current = e.source();
    }
    None
}

/// The innermost message of an error chain: usually the one that says what happened.
pub(crate) fn innermost(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_come_from_the_io_error_anywhere_in_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            connect_reason(&refused).as_deref(),
            Some("connection refused")
        );
        assert_eq!(innermost(&refused), "connection refused");
        let plain = std::fmt::Error;
        assert_eq!(connect_reason(&plain), None);
    }
}
