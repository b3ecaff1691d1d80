//! The accept loop: one thread per connection, timeouts on every socket, a cap on
//! concurrent connections, one access-log line per request, and the `--healthcheck`
//! probe that lets a `FROM scratch` image (no shell, no curl) check itself.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{Request, Response, read_request};

/// A service's `main`: reads `$PORT`, then runs `run(port)` (no arguments),
/// `--healthcheck` (the probe a `FROM scratch` image uses, having no curl), or `--help`.
/// `name` prefixes every message; `usage` is printed for `--help` and bad arguments.
pub fn main(name: &str, usage: &str, run: impl FnOnce(u16) -> ExitCode) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match port_from_env(std::env::var("PORT").ok().as_deref()) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => run(port),
        ["--healthcheck"] => match healthcheck(port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: unhealthy: {e}");
                ExitCode::FAILURE
            }
        },
        ["--help" | "-h"] => {
            print!("{usage}");
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{name}: unexpected arguments {args:?}\n\n{usage}");
            ExitCode::from(2)
        }
    }
}

/// Port used when `$PORT` is not set.
pub const DEFAULT_PORT: u16 = 8080;

/// Socket limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send its request head. Slow or idle clients must
    /// not hold a thread forever.
    pub read_timeout: Duration,
    /// How long a client may take to accept the response.
    pub write_timeout: Duration,
    /// Connections served at once; beyond it new ones get 503 at once, so a flood
    /// cannot exhaust threads or memory.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connections: 256,
        }
    }
}

/// Reads `$PORT`: absent means [`DEFAULT_PORT`], anything else must be a port number.
pub fn port_from_env(value: Option<&str>) -> Result<u16, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(DEFAULT_PORT),
        Some(v) => match v.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!(
                "PORT must be a TCP port number between 1 and 65535, got {v:?}"
            )),
            Ok(port) => Ok(port),
        },
    }
}

/// Writes one log line to stdout (what awslogs ships), ignoring a closed stdout
/// rather than panicking the way `println!` would.
pub fn log(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = out.write_fmt(args);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Serves connections from `listener` until accepting fails fatally.
pub fn serve<H>(listener: TcpListener, handler: H, limits: Limits) -> io::Error
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if is_transient_accept_error(&e) => {
                log(format_args!("accept failed, continuing: {e}"));
                // Out of file descriptors: give running connections a moment to finish
                // instead of spinning on the same error.
                thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return e,
        };
        let _ = stream.set_read_timeout(Some(limits.read_timeout));
        let _ = stream.set_write_timeout(Some(limits.write_timeout));
        let _ = stream.set_nodelay(true);

        if active.fetch_add(1, Ordering::SeqCst) >= limits.max_connections {
            active.fetch_sub(1, Ordering::SeqCst);
            reject_busy(stream);
            continue;
        }
        let guard = ActiveGuard(Arc::clone(&active));
        let handler = Arc::clone(&handler);
        let spawned = thread::Builder::new()
            .name(format!("conn-{peer}"))
            .spawn(move || {
                let _guard = guard;
                handle_connection(stream, peer, &*handler);
            });
        if let Err(e) = spawned {
            log(format_args!("cannot spawn a thread for {peer}: {e}"));
        }
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    ) || matches!(e.raw_os_error(), Some(23 | 24)) // ENFILE, EMFILE
}

/// Decrements the active-connection count when a connection thread ends, panics included.
struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn reject_busy(mut stream: TcpStream) {
    let _ = Response::text(503, "server busy, retry\n")
        .with_header("Retry-After", "1")
        .write_to(&mut stream, true);
    let _ = stream.shutdown(Shutdown::Both);
}

/// Reads one request, answers it, logs it, closes the connection.
pub fn handle_connection<H>(mut stream: TcpStream, peer: SocketAddr, handler: &H)
where
    H: Fn(&Request) -> Response + ?Sized,
{
    let started = Instant::now();
    let (request, response) = match read_request(&mut stream) {
        Ok(request) => {
            let response = handler(&request);
            (Some(request), response)
        }
        Err(e) => match e.response() {
            Some(response) => (None, response),
            None => return,
        },
    };
    let head_only = request.as_ref().is_some_and(|r| r.method == "HEAD");
    let written = response.write_to(&mut stream, !head_only);
    let (method, path) = request
        .as_ref()
        .map_or(("-", "-"), |r| (r.method.as_str(), r.path.as_str()));
    match written {
        Ok(()) => log(format_args!(
            "{peer} {method} {path} {} {}ms",
            response.status(),
            started.elapsed().as_millis()
        )),
        Err(e) => log(format_args!(
            "{peer} {method} {path} {} write failed: {e}",
            response.status()
        )),
    }
    linger_close(stream);
}

/// Closes without losing the response: closing a socket that still has unread input
/// makes the kernel send RST, which can discard the response before the client reads
/// it. Half-close, then drain what the client still sends, bounded in bytes and time.
fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while drained < 64 * 1024 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// `--healthcheck`: asks the server on 127.0.0.1:`port` for `/healthz` and reports
/// whether it answered 200.
pub fn healthcheck(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("cannot send the probe: {e}"))?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        match stream.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("no answer: {e}")),
        }
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    let status_line = String::from_utf8_lossy(&head[..len]);
    let status_line = status_line.lines().next().unwrap_or_default();
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!("unhealthy answer: {status_line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts `serve` on an ephemeral loopback port. The listener is bound before this
    /// returns, so connecting right away cannot race the server thread.
    fn start<H>(handler: H, limits: Limits) -> SocketAddr
    where
        H: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        thread::spawn(move || serve(listener, handler, limits));
        addr
    }

    fn roundtrip(addr: SocketAddr, raw: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(raw).expect("send");
        let mut out = String::new();
        stream.read_to_string(&mut out).expect("read response");
        out
    }

    #[test]
    fn port_from_env_defaults_and_validates() {
        assert_eq!(port_from_env(None), Ok(DEFAULT_PORT));
        assert_eq!(port_from_env(Some("")), Ok(DEFAULT_PORT));
        assert_eq!(port_from_env(Some("9090")), Ok(9090));
        assert!(port_from_env(Some("0")).is_err());
        assert!(port_from_env(Some("70000")).is_err());
        assert!(port_from_env(Some("http")).is_err());
    }

    #[test]
    fn serves_a_request_over_a_real_socket() {
        let addr = start(
            |req: &Request| Response::text(200, format!("you asked for {}", req.path)),
            Limits::default(),
        );
        let out = roundtrip(addr, b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.ends_with("you asked for /hello"), "{out}");
    }

    #[test]
    fn head_gets_headers_only() {
        let addr = start(|_: &Request| Response::text(200, "body"), Limits::default());
        let out = roundtrip(addr, b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(out.contains("Content-Length: 4\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "{out}");
    }

    #[test]
    fn garbage_gets_400_and_the_server_keeps_serving() {
        let addr = start(|_: &Request| Response::text(200, "fine"), Limits::default());
        let out = roundtrip(addr, b"\x16\x03\x01 not http at all\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        let out = roundtrip(addr, b"GET / HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    }

    #[test]
    fn silent_client_is_timed_out_with_408() {
        let limits = Limits {
            read_timeout: Duration::from_millis(100),
            ..Limits::default()
        };
        let addr = start(|_: &Request| Response::text(200, "never"), limits);
        // Sends half a head and then nothing: the server must not wait forever.
        let out = roundtrip(addr, b"GET / HTTP/1.1\r\n");
        assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
    }

    #[test]
    fn connections_beyond_the_cap_get_503() {
        let limits = Limits {
            max_connections: 0,
            ..Limits::default()
        };
        let addr = start(|_: &Request| Response::text(200, "never"), limits);
        let out = roundtrip(addr, b"GET / HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 503 "), "{out}");
        assert!(out.contains("Retry-After: 1\r\n"), "{out}");
    }

    #[test]
    fn healthcheck_reports_status() {
        let healthy = start(
            |req: &Request| match req.path.as_str() {
                "/healthz" => Response::json(200, r#"{"status":"ok"}"#),
                _ => Response::text(404, "no"),
            },
            Limits::default(),
        );
        assert_eq!(healthcheck(healthy.port()), Ok(()));

        let sick = start(|_: &Request| Response::text(503, "down"), Limits::default());
        let err = healthcheck(sick.port()).expect_err("503 is unhealthy");
        assert!(err.contains("503"), "{err}");
    }

    #[test]
    fn healthcheck_fails_when_nothing_listens() {
        // Bind then drop: the port was free a moment ago and nothing listens on it now.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("ephemeral port")
            .port();
        let err = healthcheck(port).expect_err("nothing listens");
        assert!(err.contains("cannot connect"), "{err}");
    }
}
