//! Just enough HTTP/1.1 for a service behind an ALB: read one request head (size-capped),
//! answer with one response, close the connection.
//!
//! Every response says `Connection: close`, so a connection is "read head, write
//! response" with no keep-alive state to get wrong. The ALB opens a new connection to
//! the target per request when the target closes, which costs one handshake inside the
//! VPC. Request bodies are never read: every route here is a GET.

use std::io::{self, Read, Write};

/// Largest request head accepted. ALB requests carry a handful of `X-Forwarded-*` and
/// `X-Amzn-Trace-Id` headers, far below this.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// The parts of a request the routes look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
}

/// Why no request could be read from a connection.
#[derive(Debug)]
pub enum RequestError {
    /// The peer closed before sending anything (TCP health probes, port scanners).
    Closed,
    /// The head grew past [`MAX_HEAD_BYTES`] without ending.
    TooLarge,
    /// The bytes are not an HTTP/1.x request head.
    Malformed(&'static str),
    /// Reading failed, including the read timeout expiring.
    Io(io::Error),
}

impl RequestError {
    /// The response to send for this error, or `None` when nobody is there to read it.
    pub fn response(&self) -> Option<Response> {
        match self {
            RequestError::Closed => None,
            RequestError::TooLarge => Some(Response::text(431, "request head too large\n")),
            RequestError::Malformed(why) => {
                Some(Response::text(400, format!("bad request: {why}\n")))
            }
            RequestError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Some(Response::text(408, "request timeout\n"))
            }
            RequestError::Io(_) => None,
        }
    }
}

/// Reads bytes until the blank line that ends a request head, then parses the head.
pub fn read_request(reader: &mut impl Read) -> Result<Request, RequestError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Err(RequestError::Closed),
            Ok(0) => return Err(RequestError::Malformed("connection closed mid-request")),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RequestError::Io(e)),
        };
        // The terminator may straddle two reads: search from just before the new bytes.
        let search_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = find(&buf[search_from..], b"\r\n\r\n") {
            let head_len = search_from + pos;
            if head_len > MAX_HEAD_BYTES {
                return Err(RequestError::TooLarge);
            }
            return parse_head(&buf[..head_len]);
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(RequestError::TooLarge);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses a request head (without its final blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
    let head = std::str::from_utf8(head)
        .map_err(|_| RequestError::Malformed("request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();

    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed(
            "request line must be METHOD SP TARGET SP VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(RequestError::Malformed("invalid method"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(RequestError::Malformed(
            "only HTTP/1.0 and HTTP/1.1 are served",
        ));
    }
    if !target.starts_with('/') {
        return Err(RequestError::Malformed(
            "request target must be an absolute path",
        ));
    }
    if target.bytes().any(|b| b.is_ascii_control()) {
        return Err(RequestError::Malformed(
            "control character in request target",
        ));
    }

    for line in lines {
        let Some((name, _value)) = line.split_once(':') else {
            return Err(RequestError::Malformed("header line without a colon"));
        };
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(RequestError::Malformed("invalid header name"));
        }
    }

    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
    })
}

/// A complete response, body included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "application/json", body.into())
    }

    #[allow(
        dead_code,
        reason = "this file is shared by both services; not every helper is used by both"
    )]
    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/html; charset=utf-8", body.into())
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// Adds a header; `value` must not contain CR or LF (callers pass constants).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    #[allow(
        dead_code,
        reason = "this file is shared by both services; not every helper is used by both"
    )]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    #[allow(
        dead_code,
        reason = "this file is shared by both services; not every helper is used by both"
    )]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Writes the response; `include_body` is false for HEAD requests, which still get
    /// the GET response's Content-Length.
    pub fn write_to(&self, w: &mut impl Write, include_body: bool) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
        );
        for (name, value) in &self.headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        w.write_all(head.as_bytes())?;
        if include_body {
            w.write_all(&self.body)?;
        }
        w.flush()
    }
}

/// Reason phrase of the status codes this program sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Escapes `s` for use inside a JSON string literal.
#[allow(
    dead_code,
    reason = "this file is shared by both services; not every helper is used by both"
)]
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes one at a time, like a slow client.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((first, rest)) if !buf.is_empty() => {
                    buf[0] = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn parse(raw: &str) -> Result<Request, RequestError> {
        read_request(&mut raw.as_bytes())
    }

    #[test]
    fn parses_a_request_with_query_and_headers() {
        let req =
            parse("GET /api/items?limit=2 HTTP/1.1\r\nHost: x\r\nX-Amzn-Trace-Id: Root=1\r\n\r\n")
                .expect("valid request");
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/api/items");
        assert_eq!(req.query.as_deref(), Some("limit=2"));
    }

    #[test]
    fn terminator_split_across_reads_is_found() {
        let raw = b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n";
        let req = read_request(&mut Trickle(raw)).expect("valid request");
        assert_eq!(req.path, "/healthz");
        assert_eq!(req.query, None);
    }

    #[test]
    fn rejects_malformed_heads_with_400() {
        for raw in [
            "GET /\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "get / HTTP/1.1\r\n\r\n",
            "GET http://example.com/ HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
            "GET / HTTP/1.1\r\nbad name: x\r\n\r\n",
            "\u{0}\u{1}\u{2}\r\n\r\n",
        ] {
            let err = parse(raw).expect_err(raw);
            assert!(
                matches!(err, RequestError::Malformed(_)),
                "{raw:?} gave {err:?}"
            );
            assert_eq!(err.response().map(|r| r.status()), Some(400), "{raw:?}");
        }
    }

    #[test]
    fn rejects_invalid_utf8() {
        let err = read_request(&mut &b"GET /\xff HTTP/1.1\r\n\r\n"[..]).expect_err("not utf-8");
        assert!(matches!(err, RequestError::Malformed(_)));
    }

    #[test]
    fn oversized_head_is_431_not_unbounded_buffering() {
        let raw = format!(
            "GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        let err = parse(&raw).expect_err("too large");
        assert!(matches!(err, RequestError::TooLarge));
        assert_eq!(err.response().map(|r| r.status()), Some(431));

        // A head that never ends is cut off too.
        let endless = "A".repeat(MAX_HEAD_BYTES * 2);
        assert!(matches!(parse(&endless), Err(RequestError::TooLarge)));
    }

    #[test]
    fn closed_connection_gets_no_response() {
        let err = parse("").expect_err("empty");
        assert!(matches!(err, RequestError::Closed));
        assert!(err.response().is_none());
        let partial = parse("GET / HTTP/1.1\r\n").expect_err("partial");
        assert!(matches!(partial, RequestError::Malformed(_)));
    }

    #[test]
    fn timeout_is_408() {
        let err = RequestError::Io(io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(err.response().map(|r| r.status()), Some(408));
    }

    #[test]
    fn response_is_written_with_length_and_close() {
        let resp = Response::json(200, r#"{"status":"ok"}"#).with_header("Allow", "GET");
        let mut out = Vec::new();
        resp.write_to(&mut out, true).expect("write to vec");
        let out = String::from_utf8(out).expect("utf-8");
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("\r\nContent-Type: application/json\r\n"));
        assert!(out.contains("\r\nContent-Length: 15\r\n"));
        assert!(out.contains("\r\nConnection: close\r\n"));
        assert!(out.contains("\r\nAllow: GET\r\n"));
        assert!(out.ends_with("\r\n\r\n{\"status\":\"ok\"}"));

        let mut head_only = Vec::new();
        resp.write_to(&mut head_only, false).expect("write to vec");
        let head_only = String::from_utf8(head_only).expect("utf-8");
        assert!(head_only.ends_with("\r\n\r\n"));
        assert!(head_only.contains("Content-Length: 15"));
    }

    #[test]
    fn json_escape_handles_quotes_backslashes_and_controls() {
        assert_eq!(json_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(json_escape("line\nbreak\u{1}"), "line\\nbreak\\u0001");
        assert_eq!(json_escape("héllo ✓"), "héllo ✓");
    }

    /// Deterministic pseudo-random inputs (xorshift64): every outcome must be a value,
    /// never a panic.
    #[test]
    fn random_heads_never_panic() {
        let alphabet = b"GET /?HTP1.0\r\n: \x00\xff\xc3\xa9aZ";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 64) as usize;
            let raw: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 56)) as usize).wrapping_add(i) % alphabet.len()])
                .chain(*b"\r\n\r\n")
                .collect();
            let _ = read_request(&mut &raw[..]);
        }
    }
}
