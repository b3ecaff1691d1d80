//! Backend of forge's sample two-tier app: a small JSON API that runs as ECS Fargate
//! tasks behind the internal ALB.
//!
//! - `GET /healthz` → `200 {"status":"ok"}` (the internal ALB's target health check)
//! - `GET /api/items` → the item list and the running version (`$APP_VERSION`, which
//!   the reference project sets to the commit SHA the image was built from)
//!
//! Configuration is environment only: `PORT` (default 8080), `APP_VERSION` (default
//! `dev`). `backend --healthcheck` probes a running server on localhost and exits 0
//! when it is healthy, for container health checks in an image without a shell.
//!
//! Modules: `http` parses requests and writes responses, `server` runs the accept loop
//! and owns the socket limits; this file holds the routes.

use std::env;
use std::net::TcpListener;
use std::process::ExitCode;

use app_http::http::{Request, Response, json_escape};

/// One thing the shop sells.
struct Item {
    id: u32,
    name: &'static str,
    stock: u32,
}

/// The catalogue. Static on purpose: the sample app exercises the deployment path
/// (ALBs, security groups, images), not a database.
const ITEMS: &[Item] = &[
    Item {
        id: 1,
        name: "Anvil",
        stock: 12,
    },
    Item {
        id: 2,
        name: "Rocket skates",
        stock: 3,
    },
    Item {
        id: 3,
        name: "Giant rubber band",
        stock: 40,
    },
    Item {
        id: 4,
        name: "Portable hole",
        stock: 0,
    },
];

const USAGE: &str = "usage: backend [--healthcheck]

Serves the sample app's JSON API on 0.0.0.0:$PORT.

environment:
  PORT         port to listen on (default 8080)
  APP_VERSION  version reported by /api/items (default \"dev\")

options:
  --healthcheck  probe the server on localhost:$PORT/healthz; exit 0 if healthy
";

fn main() -> ExitCode {
    app_http::server::main("backend", USAGE, run)
}

fn run(port: u16) -> ExitCode {
    let app = App {
        version: env::var("APP_VERSION").unwrap_or_else(|_| "dev".to_owned()),
    };
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("backend: cannot listen on 0.0.0.0:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    app_http::server::log(format_args!(
        "backend {} listening on 0.0.0.0:{port}",
        app.version
    ));
    let err = app_http::server::serve(
        listener,
        move |req| app.route(req),
        app_http::server::Limits::default(),
    );
    eprintln!("backend: accepting connections failed: {err}");
    ExitCode::FAILURE
}

/// The routes and the state they read.
struct App {
    version: String,
}

impl App {
    fn route(&self, req: &Request) -> Response {
        match req.path.as_str() {
            "/healthz" => get_only(req, || Response::json(200, r#"{"status":"ok"}"#)),
            "/api/items" => get_only(req, || Response::json(200, self.items_json())),
            _ => Response::json(404, r#"{"error":"not found"}"#),
        }
    }

    fn items_json(&self) -> String {
        let items: Vec<String> = ITEMS
            .iter()
            .map(|item| {
                format!(
                    r#"{{"id":{},"name":"{}","stock":{}}}"#,
                    item.id,
                    json_escape(item.name),
                    item.stock
                )
            })
            .collect();
        format!(
            r#"{{"version":"{}","items":[{}]}}"#,
            json_escape(&self.version),
            items.join(",")
        )
    }
}

/// Answers GET (and HEAD, which the server strips to headers) with `ok`, anything else
/// with 405 and the `Allow` header the standard requires.
fn get_only(req: &Request, ok: impl FnOnce() -> Response) -> Response {
    match req.method.as_str() {
        "GET" | "HEAD" => ok(),
        _ => Response::json(405, r#"{"error":"method not allowed"}"#)
            .with_header("Allow", "GET, HEAD"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request {
        request("GET", path)
    }

    fn request(method: &str, path: &str) -> Request {
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            query: None,
        }
    }

    fn app(version: &str) -> App {
        App {
            version: version.to_owned(),
        }
    }

    fn body(resp: &Response) -> &str {
        std::str::from_utf8(resp.body()).expect("utf-8 body")
    }

    #[test]
    fn healthz_is_exactly_status_ok() {
        let resp = app("abc123").route(&get("/healthz"));
        assert_eq!(resp.status(), 200);
        assert_eq!(body(&resp), r#"{"status":"ok"}"#);
    }

    #[test]
    fn items_lists_every_item_and_the_version() {
        let resp = app("0f3c2a1").route(&get("/api/items"));
        assert_eq!(resp.status(), 200);
        assert_eq!(
            body(&resp),
            r#"{"version":"0f3c2a1","items":[{"id":1,"name":"Anvil","stock":12},{"id":2,"name":"Rocket skates","stock":3},{"id":3,"name":"Giant rubber band","stock":40},{"id":4,"name":"Portable hole","stock":0}]}"#
        );
    }

    #[test]
    fn version_from_the_environment_cannot_break_the_json() {
        let resp = app("v\"1\\\n").route(&get("/api/items"));
        assert!(
            body(&resp).starts_with(r#"{"version":"v\"1\\\n","items":["#),
            "{}",
            body(&resp)
        );
    }

    #[test]
    fn unknown_path_is_404_json() {
        let resp = app("dev").route(&get("/admin"));
        assert_eq!(resp.status(), 404);
        assert_eq!(body(&resp), r#"{"error":"not found"}"#);
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let resp = app("dev").route(&request("POST", "/api/items"));
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
        let head = app("dev").route(&request("HEAD", "/healthz"));
        assert_eq!(head.status(), 200);
    }
}
