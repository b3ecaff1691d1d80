//! The HTML the frontend serves: the item list, and the page shown when the backend
//! cannot be used, which says what failed and what to check (the seed project's
//! "no single log tells the whole story", answered where the user is looking).

use crate::client::FetchError;
use crate::json::{self, Value};

/// The backend's `/api/items` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub version: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: u64,
    pub name: String,
    pub stock: Option<u64>,
}

/// Reads the catalogue, strictly: a backend that answers something else is reported,
/// not half-rendered.
pub fn catalog_from_json(body: &[u8]) -> Result<Catalog, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let doc = json::parse(text).map_err(|e| format!("the body is not JSON ({e})"))?;
    let version = doc
        .get("version")
        .and_then(Value::as_str)
        .ok_or("no \"version\" string")?
        .to_owned();
    let items = doc
        .get("items")
        .and_then(Value::as_array)
        .ok_or("no \"items\" array")?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            Ok(Item {
                id: item
                    .get("id")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("item {i} has no integer \"id\""))?,
                name: item
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("item {i} has no \"name\" string"))?
                    .to_owned(),
                stock: item.get("stock").and_then(Value::as_u64),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Catalog { version, items })
}

/// Why the page could not show the items.
#[derive(Debug)]
pub enum Problem {
    /// The call itself failed (DNS, connect, timeout, garbage).
    Fetch(FetchError),
    /// The backend (or the ALB in front of it) answered with a non-200 status.
    Status(u16),
    /// A 200 whose body is not the catalogue.
    Content(String),
}

impl Problem {
    /// Status of the error page: 504 when the backend was too slow, 502 otherwise, as
    /// a gateway reports an upstream failure.
    pub fn status(&self) -> u16 {
        match self {
            Problem::Fetch(e) if e.is_timeout() => 504,
            _ => 502,
        }
    }

    pub fn summary(&self) -> String {
        match self {
            Problem::Fetch(e) => e.to_string(),
            Problem::Status(status) => format!("the backend answered HTTP {status}"),
            Problem::Content(why) => format!("the backend's answer is not the item list: {why}"),
        }
    }

    /// What to look at, most likely cause first.
    fn hints(&self) -> &'static [&'static str] {
        match self {
            Problem::Fetch(FetchError::Resolve { .. }) => &[
                "BACKEND_URL must be the internal ALB's DNS name (alb-internal output <code>url</code>).",
                "The VPC needs DNS support and DNS hostnames enabled (vpc module defaults).",
            ],
            Problem::Fetch(FetchError::Connect { .. }) => &[
                "The internal ALB's security group must allow the frontend tasks' security group on the listener port, and the frontend tasks' group needs the matching egress rule (security-groups rules 4 and 6).",
                "The port in BACKEND_URL must be the internal ALB's listener port.",
            ],
            Problem::Fetch(FetchError::Io { .. }) => &[
                "The backend accepted the connection but did not answer in time: check the backend service's logs and its CPU and memory.",
            ],
            Problem::Fetch(FetchError::BadResponse(_)) | Problem::Content(_) => &[
                "BACKEND_URL may point at something other than the backend API.",
                "Frontend and backend may be running incompatible versions.",
            ],
            Problem::Status(502..=504) => &[
                "The internal ALB has no healthy backend targets: check the backend ECS service's events and its target group health.",
                "The backend tasks must answer GET /healthz with 200 on the target group's port, and the internal ALB's security group needs egress to them (security-groups rules 7 and 8).",
            ],
            Problem::Status(_) => {
                &["The backend rejected the request: check the backend's logs for this path."]
            }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}\
td.n{text-align:right}.error{border-left:4px solid #c0392b;padding:.5rem 1rem;background:#fdf2f1}\
footer{margin-top:2rem;color:#777;font-size:.85rem}code{background:#f3f3f3;padding:0 .2rem}";

fn page(title: &str, main: &str, footer: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{main}\n\
         <footer>{footer}</footer>\n</body>\n</html>\n",
        title = html_escape(title),
    )
}

fn footer(frontend_version: &str, backend_version: Option<&str>) -> String {
    match backend_version {
        Some(v) => format!(
            "frontend {} · backend {}",
            html_escape(frontend_version),
            html_escape(v)
        ),
        None => format!("frontend {}", html_escape(frontend_version)),
    }
}

/// The item list.
pub fn render_items(catalog: &Catalog, frontend_version: &str) -> String {
    let mut main = String::from("<h1>Items</h1>\n");
    if catalog.items.is_empty() {
        main.push_str("<p>No items yet.</p>\n");
    } else {
        main.push_str(
            "<table>\n<thead><tr><th>#</th><th>Name</th><th>In stock</th></tr></thead>\n<tbody>\n",
        );
        for item in &catalog.items {
            let stock = item.stock.map_or_else(|| "–".to_owned(), |s| s.to_string());
            main.push_str(&format!(
                "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>\n",
                item.id,
                html_escape(&item.name),
                stock
            ));
        }
        main.push_str("</tbody>\n</table>");
    }
    page(
        "Items",
        &main,
        &footer(frontend_version, Some(&catalog.version)),
    )
}

/// The page shown instead of the items when the backend could not be used.
pub fn render_error(problem: &Problem, backend_url: &str, frontend_version: &str) -> String {
    let hints: String = problem
        .hints()
        .iter()
        .map(|h| format!("<li>{h}</li>\n"))
        .collect();
    let main = format!(
        "<h1>The backend is unavailable</h1>\n\
         <div class=\"error\"><p>The item list could not be loaded from <code>{url}</code>: \
         {summary}.</p></div>\n\
         <h2>What to check</h2>\n<ul>\n{hints}</ul>\n\
         <p>This page is served by the frontend, which is running; reload once the backend is back.</p>",
        url = html_escape(backend_url),
        summary = html_escape(&problem.summary()),
    );
    page(
        "Backend unavailable",
        &main,
        &footer(frontend_version, None),
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn reads_the_catalog() {
        let body = br#"{"version":"abc","items":[{"id":1,"name":"Anvil","stock":12},{"id":2,"name":"Hole"}]}"#;
        let catalog = catalog_from_json(body).expect("valid catalog");
        assert_eq!(catalog.version, "abc");
        assert_eq!(
            catalog.items,
            vec![
                Item {
                    id: 1,
                    name: "Anvil".into(),
                    stock: Some(12)
                },
                Item {
                    id: 2,
                    name: "Hole".into(),
                    stock: None
                },
            ]
        );
    }

    #[test]
    fn names_what_is_wrong_with_a_bad_catalog() {
        for (body, needle) in [
            (&b"\xff"[..], "UTF-8"),
            (b"<html>", "not JSON"),
            (br#"{"items":[]}"#, "version"),
            (br#"{"version":"v"}"#, "items"),
            (
                br#"{"version":"v","items":[{"name":"x"}]}"#,
                "item 0 has no integer \"id\"",
            ),
            (br#"{"version":"v","items":[{"id":1.5,"name":"x"}]}"#, "id"),
            (br#"{"version":"v","items":[{"id":1}]}"#, "name"),
        ] {
            let err = catalog_from_json(body).expect_err(needle);
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn item_names_are_escaped() {
        let catalog = Catalog {
            version: "<v>".into(),
            items: vec![Item {
                id: 7,
                name: "<script>alert('x')</script> & co".into(),
                stock: Some(1),
            }],
        };
        let html = render_items(&catalog, "f\"1");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("backend &lt;v&gt;"));
        assert!(html.contains("frontend f&quot;1"));
    }

    #[test]
    fn empty_catalog_says_so() {
        let html = render_items(
            &Catalog {
                version: "v".into(),
                items: vec![],
            },
            "f",
        );
        assert!(html.contains("No items yet."));
    }

    #[test]
    fn error_page_names_the_failure_and_the_checks() {
        let problem = Problem::Fetch(FetchError::Connect {
            addrs: vec!["10.0.10.5:80".parse().expect("addr")],
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        });
        assert_eq!(problem.status(), 502);
        let html = render_error(&problem, "http://internal-alb<x>", "f");
        assert!(html.contains("The backend is unavailable"));
        assert!(html.contains("could not connect to 10.0.10.5:80"));
        assert!(html.contains("http://internal-alb&lt;x&gt;"));
        assert!(html.contains("security group"));
    }

    #[test]
    fn timeouts_are_504_and_alb_errors_point_at_target_health() {
        let timeout = Problem::Fetch(FetchError::Io {
            stage: "receiving the response",
            source: io::Error::from(io::ErrorKind::WouldBlock),
        });
        assert_eq!(timeout.status(), 504);

        let no_targets = Problem::Status(503);
        assert_eq!(no_targets.status(), 502);
        let html = render_error(&no_targets, "http://b", "f");
        assert!(html.contains("HTTP 503"));
        assert!(html.contains("no healthy backend targets"));
    }
}
