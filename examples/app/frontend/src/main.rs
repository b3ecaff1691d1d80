//! Frontend of forge's sample two-tier app: an HTML page served by ECS Fargate tasks
//! behind the public ALB. It fetches the items server-side from the backend through
//! the internal ALB (`$BACKEND_URL` + `/api/items`), so the browser never talks to the
//! backend and the backend stays private.
//!
//! - `GET /` → the item list, or an error page (502/504) that says what failed and
//!   what to check when the backend cannot be used
//! - `GET /healthz` → `200 {"status":"ok"}` (the public ALB's target health check)
//!
//! Configuration is environment only: `BACKEND_URL` (required), `PORT` (default
//! 8080), `APP_VERSION` (default `dev`). `frontend --healthcheck` probes a running
//! server on localhost, for container health checks in an image without a shell.
//!
//! Modules: `http` and `server` (identical to the backend's) serve requests; `client`
//! calls the backend; `json` parses its answer; `page` renders HTML.

mod client;
mod json;
mod page;

use std::env;
use std::net::TcpListener;
use std::process::ExitCode;

use app_http::http::{Request, Response};
use client::{BackendUrl, Timeouts};
use page::Problem;

const USAGE: &str = "usage: frontend [--healthcheck]

Serves the sample app's web page on 0.0.0.0:$PORT, with items from the backend.

environment:
  BACKEND_URL  the backend's base URL, e.g. http://internal-shop-123.eu-west-1.elb.amazonaws.com (required)
  PORT         port to listen on (default 8080)
  APP_VERSION  version shown in the page footer (default \"dev\")

options:
  --healthcheck  probe the server on localhost:$PORT/healthz; exit 0 if healthy
";

fn main() -> ExitCode {
    app_http::server::main("frontend", USAGE, run)
}

fn run(port: u16) -> ExitCode {
    // A frontend without a usable backend URL cannot do its job: refuse to start, so
    // the deployment fails with this message in the task's log instead of serving
    // error pages forever.
    let backend = match env::var("BACKEND_URL") {
        Ok(raw) => match BackendUrl::parse(&raw) {
            Ok(url) => url,
            Err(e) => {
                eprintln!("frontend: {e}");
                return ExitCode::from(2);
            }
        },
        Err(_) => {
            eprintln!(
                "frontend: BACKEND_URL is not set; set it to the internal ALB's URL (alb-internal output `url`)"
            );
            return ExitCode::from(2);
        }
    };
    let app = App {
        backend,
        version: env::var("APP_VERSION").unwrap_or_else(|_| "dev".to_owned()),
        timeouts: Timeouts::default(),
    };
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("frontend: cannot listen on 0.0.0.0:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    app_http::server::log(format_args!(
        "frontend {} listening on 0.0.0.0:{port}, backend {}",
        app.version, app.backend
    ));
    let err = app_http::server::serve(
        listener,
        move |req| app.route(req),
        app_http::server::Limits::default(),
    );
    eprintln!("frontend: accepting connections failed: {err}");
    ExitCode::FAILURE
}

/// The routes and what they need.
struct App {
    backend: BackendUrl,
    version: String,
    timeouts: Timeouts,
}

impl App {
    fn route(&self, req: &Request) -> Response {
        match req.path.as_str() {
            "/" => get_only(req, || self.index()),
            // Only the frontend's own health: if it included the backend's, a backend
            // outage would make the public ALB drain every frontend task, and users
            // would get the ALB's bare 503 instead of the error page that explains.
            "/healthz" => get_only(req, || Response::json(200, r#"{"status":"ok"}"#)),
            _ => Response::html(
                404,
                "<!doctype html>\n<title>Not found</title>\n<h1>Not found</h1>\n",
            ),
        }
    }

    fn index(&self) -> Response {
        match self.load_catalog() {
            Ok(catalog) => Response::html(200, page::render_items(&catalog, &self.version)),
            Err(problem) => {
                app_http::server::log(format_args!(
                    "backend {} unusable: {}",
                    self.backend,
                    problem.summary()
                ));
                Response::html(
                    problem.status(),
                    page::render_error(&problem, &self.backend.to_string(), &self.version),
                )
            }
        }
    }

    fn load_catalog(&self) -> Result<page::Catalog, Problem> {
        let fetched =
            client::get(&self.backend, "/api/items", self.timeouts).map_err(Problem::Fetch)?;
        if fetched.status != 200 {
            return Err(Problem::Status(fetched.status));
        }
        page::catalog_from_json(&fetched.body).map_err(Problem::Content)
    }
}

/// Answers GET (and HEAD) with `ok`, anything else with 405 and `Allow`.
fn get_only(req: &Request, ok: impl FnOnce() -> Response) -> Response {
    match req.method.as_str() {
        "GET" | "HEAD" => ok(),
        _ => Response::text(405, "method not allowed\n").with_header("Allow", "GET, HEAD"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::thread;
    use std::time::Duration;

    /// A backend stand-in on a real loopback socket that answers one request with
    /// `response`.
    fn fake_backend(response: &'static [u8]) -> (BackendUrl, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handle = thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(response);
        });
        let url = BackendUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url");
        (url, handle)
    }

    fn app(backend: BackendUrl) -> App {
        App {
            backend,
            version: "f00d".to_owned(),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                io: Duration::from_secs(5),
            },
        }
    }

    fn get(path: &str) -> Request {
        Request {
            method: "GET".to_owned(),
            path: path.to_owned(),
            query: None,
        }
    }

    fn body(resp: &Response) -> &str {
        std::str::from_utf8(resp.body()).expect("utf-8")
    }

    #[test]
    fn index_shows_items_from_the_backend() {
        let (url, backend) = fake_backend(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 70\r\n\r\n{\"version\":\"beef\",\"items\":[{\"id\":1,\"name\":\"Anvil & <Co>\",\"stock\":12}]}",
        );
        let resp = app(url).route(&get("/"));
        backend.join().expect("backend thread");
        assert_eq!(resp.status(), 200, "{}", body(&resp));
        assert!(
            body(&resp).contains("<td>Anvil &amp; &lt;Co&gt;</td>"),
            "{}",
            body(&resp)
        );
        assert!(body(&resp).contains("frontend f00d · backend beef"));
    }

    #[test]
    fn index_explains_an_unreachable_backend() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("ephemeral port")
            .port();
        let url = BackendUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url");
        let resp = app(url).route(&get("/"));
        assert_eq!(resp.status(), 502);
        let html = body(&resp);
        assert!(html.contains("The backend is unavailable"), "{html}");
        assert!(html.contains(&format!("http://127.0.0.1:{port}")), "{html}");
        assert!(html.contains("could not connect"), "{html}");
    }

    #[test]
    fn index_explains_an_alb_without_healthy_targets() {
        let (url, backend) = fake_backend(
            b"HTTP/1.1 503 Service Temporarily Unavailable\r\nServer: awselb/2.0\r\nContent-Length: 3\r\n\r\n503",
        );
        let resp = app(url).route(&get("/"));
        backend.join().expect("backend thread");
        assert_eq!(resp.status(), 502);
        assert!(
            body(&resp).contains("no healthy backend targets"),
            "{}",
            body(&resp)
        );
    }

    #[test]
    fn index_rejects_an_answer_that_is_not_the_catalog() {
        let (url, backend) =
            fake_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n<html>hi</html>");
        let resp = app(url).route(&get("/"));
        backend.join().expect("backend thread");
        assert_eq!(resp.status(), 502);
        assert!(body(&resp).contains("not the item list"), "{}", body(&resp));
    }

    #[test]
    fn healthz_does_not_depend_on_the_backend() {
        let url = BackendUrl::parse("http://127.0.0.1:1").expect("url");
        let resp = app(url).route(&get("/healthz"));
        assert_eq!(resp.status(), 200);
        assert_eq!(body(&resp), r#"{"status":"ok"}"#);
    }

    #[test]
    fn other_paths_and_methods() {
        let url = BackendUrl::parse("http://127.0.0.1:1").expect("url");
        let app = app(url);
        assert_eq!(app.route(&get("/nope")).status(), 404);
        let post = Request {
            method: "POST".to_owned(),
            ..get("/")
        };
        let resp = app.route(&post);
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
    }
}
