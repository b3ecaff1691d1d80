//! The frontend's one outbound call: `GET` a path from the backend through the
//! internal ALB, bounded in time (connect and I/O timeouts) and in size, with errors
//! that say which stage failed: DNS, connect, send, receive, or the answer itself.
//! Each stage points at a different culprit (DNS/VPC settings, security groups, the
//! backend), which is what the error page tells the user.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Largest response accepted from the backend, head included.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A parsed `BACKEND_URL`: plain HTTP to a host and port, with an optional path
/// prefix. The internal ALB listens on plain HTTP inside the VPC by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    host: String,
    port: u16,
    base_path: String,
}

impl BackendUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let scheme_end = raw.find("://").ok_or_else(|| {
            format!("BACKEND_URL must look like http://host[:port][/prefix], got {raw:?}")
        })?;
        let scheme = raw[..scheme_end].to_ascii_lowercase();
        if scheme == "https" {
            return Err(
                "BACKEND_URL uses https, which this dependency-free client does not speak; \
                 use the internal ALB's HTTP listener (it never leaves the VPC)"
                    .to_owned(),
            );
        }
        if scheme != "http" {
            return Err(format!("BACKEND_URL scheme must be http, got {scheme:?}"));
        }
        let rest = &raw[scheme_end + 3..];
        if rest.contains(['?', '#']) {
            return Err("BACKEND_URL must not contain a query or fragment".to_owned());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("BACKEND_URL must not contain credentials".to_owned());
        }
        let (host, port) = split_host_port(authority)?;
        Ok(BackendUrl {
            host: host.to_owned(),
            port,
            base_path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The `Host` header value: the port is left out when it is the default.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host_header(), self.base_path)
    }
}

fn split_host_port(authority: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("BACKEND_URL has an unterminated IPv6 address")?;
        match after {
            "" => (host, None),
            p if p.starts_with(':') => (host, Some(&p[1..])),
            _ => return Err("BACKEND_URL has junk after the IPv6 address".to_owned()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("BACKEND_URL has no host".to_owned());
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
    {
        return Err(format!(
            "BACKEND_URL host {host:?} contains invalid characters"
        ));
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(format!("BACKEND_URL port {p:?} is not a port number")),
        },
    };
    Ok((host, port))
}

/// Time limits of one backend call.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(2),
            io: Duration::from_secs(5),
        }
    }
}

/// What the backend answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a backend call failed, by stage.
#[derive(Debug)]
pub enum FetchError {
    /// The host name did not resolve.
    Resolve { host: String, source: io::Error },
    /// No address accepted a connection in time.
    Connect {
        addrs: Vec<SocketAddr>,
        source: io::Error,
    },
    /// Connected, but sending or receiving failed or took too long.
    Io {
        stage: &'static str,
        source: io::Error,
    },
    /// Something answered that is not a well-formed HTTP/1.x response.
    BadResponse(String),
}

impl FetchError {
    /// Whether the failure was a time limit, which the page reports as 504.
    pub fn is_timeout(&self) -> bool {
        let source = match self {
            FetchError::Connect { source, .. } | FetchError::Io { source, .. } => source,
            _ => return false,
        };
        matches!(
            source.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Resolve { host, source } => {
                write!(f, "could not resolve {host}: {source}")
            }
            FetchError::Connect { addrs, source } => {
                let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                write!(f, "could not connect to {}: {source}", addrs.join(", "))
            }
            FetchError::Io { stage, source } => write!(f, "{stage} failed: {source}"),
            FetchError::BadResponse(why) => write!(f, "unexpected answer: {why}"),
        }
    }
}

/// `GET base_path + path` from the backend.
pub fn get(url: &BackendUrl, path: &str, timeouts: Timeouts) -> Result<Fetched, FetchError> {
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|source| FetchError::Resolve {
            host: url.host.clone(),
            source,
        })?
        .collect();
    let mut last_err = io::Error::new(io::ErrorKind::NotFound, "the name has no addresses");
    let mut stream = None;
    // An ALB name resolves to one address per AZ; try them in turn.
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeouts.connect) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = e,
        }
    }
    let Some(mut stream) = stream else {
        return Err(FetchError::Connect {
            addrs,
            source: last_err,
        });
    };
    let io_err = |stage| move |source| FetchError::Io { stage, source };
    stream
        .set_read_timeout(Some(timeouts.io))
        .map_err(io_err("configuring the socket"))?;
    stream
        .set_write_timeout(Some(timeouts.io))
        .map_err(io_err("configuring the socket"))?;
    let request = format!(
        "GET {}{} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: forge-example-frontend\r\nConnection: close\r\n\r\n",
        url.base_path,
        path,
        url.host_header()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(io_err("sending the request"))?;
    read_response(&mut stream)
}

/// Reads one response: the head, then a body delimited by `Content-Length`, chunked
/// encoding, or the end of the connection.
pub fn read_response(r: &mut impl Read) -> Result<Fetched, FetchError> {
    let mut data = Vec::new();
    let mut searched = 0;
    let head_end = loop {
        if let Some(pos) = find(&data[searched..], b"\r\n\r\n") {
            break searched + pos;
        }
        // The terminator may straddle two reads: search again from just before the end.
        searched = data.len().saturating_sub(3);
        if read_more(r, &mut data)? == 0 {
            return Err(FetchError::BadResponse(
                "connection closed before the response head ended".to_owned(),
            ));
        }
    };
    let head = std::str::from_utf8(&data[..head_end])
        .map_err(|_| FetchError::BadResponse("response head is not UTF-8".to_owned()))?;
    let (status, length, chunked) = parse_head(head)?;
    let body_start = head_end + 4;

    let body = if chunked {
        while read_more(r, &mut data)? > 0 {}
        decode_chunked(&data[body_start..])?
    } else if let Some(length) = length {
        // checked_add: the length comes from the peer and may be near usize::MAX.
        if body_start
            .checked_add(length)
            .is_none_or(|end| end > MAX_RESPONSE_BYTES)
        {
            return Err(FetchError::BadResponse(format!(
                "body of {length} bytes is over the {MAX_RESPONSE_BYTES}-byte limit"
            )));
        }
        while data.len() < body_start + length {
            if read_more(r, &mut data)? == 0 {
                return Err(FetchError::BadResponse(format!(
                    "body ended after {} of {length} bytes",
                    data.len() - body_start
                )));
            }
        }
        data[body_start..body_start + length].to_vec()
    } else {
        while read_more(r, &mut data)? > 0 {}
        data[body_start..].to_vec()
    };
    Ok(Fetched { status, body })
}

/// Appends what one read returns; errors past [`MAX_RESPONSE_BYTES`].
fn read_more(r: &mut impl Read, data: &mut Vec<u8>) -> Result<usize, FetchError> {
    if data.len() > MAX_RESPONSE_BYTES {
        return Err(FetchError::BadResponse(format!(
            "response is over the {MAX_RESPONSE_BYTES}-byte limit"
        )));
    }
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(n) => {
                data.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(FetchError::Io {
                    stage: "receiving the response",
                    source,
                });
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status, `Content-Length` and whether the body is chunked.
fn parse_head(head: &str) -> Result<(u16, Option<usize>, bool), FetchError> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(FetchError::BadResponse(format!(
            "not an HTTP/1.x status line: {:?}",
            truncate(status_line, 80)
        )));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| FetchError::BadResponse(format!("bad status line {status_line:?}")))?;

    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(FetchError::BadResponse(
                "header line without a colon".to_owned(),
            ));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length =
                Some(value.parse::<usize>().map_err(|_| {
                    FetchError::BadResponse(format!("bad Content-Length {value:?}"))
                })?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    Ok((status, length, chunked))
}

/// Decodes a chunked body (trailers ignored).
fn decode_chunked(mut data: &[u8]) -> Result<Vec<u8>, FetchError> {
    let bad = |why: &str| FetchError::BadResponse(format!("bad chunked body: {why}"));
    let mut body = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or_else(|| bad("missing chunk size line"))?;
        let size_line =
            std::str::from_utf8(&data[..line_end]).map_err(|_| bad("size not ASCII"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("size not hex"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        // The size comes from the peer: compare without overflowing.
        if data.len().saturating_sub(2) < size || &data[size..size + 2] != b"\r\n" {
            return Err(bad("chunk shorter than its size"));
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn parses_backend_urls() {
        let url = BackendUrl::parse("http://internal-shop-123.eu-west-1.elb.amazonaws.com")
            .expect("alb url");
        assert_eq!(url.port, 80);
        assert_eq!(url.base_path, "");
        assert_eq!(
            url.to_string(),
            "http://internal-shop-123.eu-west-1.elb.amazonaws.com"
        );

        let url = BackendUrl::parse(" HTTP://127.0.0.1:8081/v1/ ").expect("with port and prefix");
        assert_eq!(
            (url.host.as_str(), url.port, url.base_path.as_str()),
            ("127.0.0.1", 8081, "/v1")
        );
        assert_eq!(url.host_header(), "127.0.0.1:8081");

        let url = BackendUrl::parse("http://[::1]:9000").expect("ipv6");
        assert_eq!((url.host.as_str(), url.port), ("::1", 9000));
        assert_eq!(url.to_string(), "http://[::1]:9000");
    }

    #[test]
    fn rejects_backend_urls_it_cannot_use() {
        for (raw, needle) in [
            ("internal-alb:80", "must look like"),
            ("https://internal-alb", "https"),
            ("ftp://x", "scheme"),
            ("http://", "no host"),
            ("http://x:0", "port"),
            ("http://x:http", "port"),
            ("http://user:pw@x", "credentials"),
            ("http://x/?a=1", "query"),
            ("http://bad host", "invalid characters"),
            ("http://[::1", "IPv6"),
        ] {
            let err = BackendUrl::parse(raw).expect_err(raw);
            assert!(err.contains(needle), "{raw:?}: {err}");
        }
    }

    #[test]
    fn reads_content_length_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        let got = read_response(&mut &raw[..]).expect("valid");
        assert_eq!(
            got,
            Fetched {
                status: 200,
                body: b"hello".to_vec()
            }
        );
    }

    #[test]
    fn reads_chunked_and_close_delimited_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\n\r\n";
        assert_eq!(
            read_response(&mut &raw[..]).expect("chunked").body,
            b"Wikipedia "
        );
        let raw =
            b"HTTP/1.0 503 Service Unavailable\r\nServer: awselb/2.0\r\n\r\n<html>down</html>";
        let got = read_response(&mut &raw[..]).expect("close-delimited");
        assert_eq!(got.status, 503);
        assert_eq!(got.body, b"<html>down</html>");
    }

    #[test]
    fn rejects_malformed_responses() {
        for raw in [
            &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\n",
        ] {
            let err = read_response(&mut &raw[..]).expect_err(&String::from_utf8_lossy(raw));
            assert!(matches!(err, FetchError::BadResponse(_)), "{err}");
        }
    }

    #[test]
    fn refuses_oversized_responses() {
        let raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_RESPONSE_BYTES + 1
        );
        assert!(matches!(
            read_response(&mut raw.as_bytes()),
            Err(FetchError::BadResponse(_))
        ));
        let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", usize::MAX);
        assert!(matches!(
            read_response(&mut huge.as_bytes()),
            Err(FetchError::BadResponse(_))
        ));
        let huge_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n0\r\n\r\n";
        assert!(matches!(
            read_response(&mut &huge_chunk[..]),
            Err(FetchError::BadResponse(_))
        ));
        let mut endless = io::repeat(b'a');
        let err = read_response(&mut endless).expect_err("no head end");
        assert!(matches!(err, FetchError::BadResponse(_)), "{err}");
    }

    #[test]
    fn get_talks_to_a_real_server() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).expect("read request");
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
                .expect("respond");
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let url = BackendUrl::parse(&format!("http://127.0.0.1:{port}/prefix")).expect("url");
        let got = get(&url, "/api/items", Timeouts::default()).expect("fetch");
        assert_eq!(
            got,
            Fetched {
                status: 200,
                body: b"[]".to_vec()
            }
        );
        let request = server.join().expect("server thread");
        assert!(
            request.starts_with("GET /prefix/api/items HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
            "{request}"
        );
    }

    #[test]
    fn get_reports_connection_refused_as_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("ephemeral port")
            .port();
        let url = BackendUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url");
        let err = get(&url, "/api/items", Timeouts::default()).expect_err("nothing listens");
        assert!(matches!(err, FetchError::Connect { .. }), "{err}");
        assert!(
            err.to_string().contains("could not connect to 127.0.0.1:"),
            "{err}"
        );
    }

    #[test]
    fn get_times_out_on_a_silent_server() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let url = BackendUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url");
        // The kernel completes the handshake from the backlog; nobody ever answers.
        let timeouts = Timeouts {
            connect: Duration::from_secs(2),
            io: Duration::from_millis(100),
        };
        let err = get(&url, "/api/items", timeouts).expect_err("silence");
        assert!(err.is_timeout(), "{err}");
        drop(listener);
    }
}
