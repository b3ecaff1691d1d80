//! Test doubles, for tests only (feature `testing`).
//!
//! [`EcsReplay`] stands in for ECS where the real component cannot do the job: moto's ECS
//! never advances a deployment (an `UpdateService` creates no new deployment, rollout
//! states never change, and there are no events or tasks), so a rollout cannot be watched
//! against it. The replay endpoint speaks ECS's JSON protocol on loopback and serves a
//! script: for each operation, a sequence of answers, one per call (the last one again
//! once the sequence is used up), so a test scripts what each poll sees. Everything moto
//! can do (task definitions, services, describe calls on a static service) is tested
//! against moto instead.
//!
//! It answers ELBv2's `DescribeTargetHealth` too (the query protocol: the operation is the
//! form body's `Action`, the answer XML), so the story of a failed rollout can show the
//! health of its targets.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// HTTP 200 with this JSON body.
    Ok(serde_json::Value),
    /// An ECS error: HTTP 400 with `{"__type": code, "message": message}` (for a query
    /// protocol call, the XML `ErrorResponse`).
    Error { code: String, message: String },
    /// HTTP 200 with this XML body (a query protocol answer, ELBv2's).
    Xml(String),
}

impl Answer {
    /// `ThrottlingException`, as ECS answers a caller that polls too fast.
    pub fn throttled() -> Answer {
        Answer::Error {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        }
    }
}

#[derive(Debug, Default)]
struct Script {
    /// Operation (`DescribeServices`) → its answers, in order.
    answers: BTreeMap<String, Vec<Answer>>,
    /// Operation → how many times it was called.
    served: BTreeMap<String, usize>,
    /// Every call: operation and request body, in order.
    calls: Vec<(String, serde_json::Value)>,
    /// Where each call is also appended, as `<unix ms> <operation>`.
    log: Option<std::path::PathBuf>,
}

/// A scripted ECS endpoint on `127.0.0.1` (see the module docs). It stops with the test
/// process.
#[derive(Debug, Clone)]
pub struct EcsReplay {
    endpoint: String,
    script: Arc<Mutex<Script>>,
}

impl EcsReplay {
    /// Starts serving on a free loopback port.
    pub fn start() -> EcsReplay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!(
            "http://{}",
            listener.local_addr().expect("the bound address")
        );
        let script = Arc::new(Mutex::new(Script::default()));
        let serving = Arc::clone(&script);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let script = Arc::clone(&serving);
                std::thread::spawn(move || serve(stream, &script));
            }
        });
        EcsReplay { endpoint, script }
    }

    /// `http://127.0.0.1:PORT`, for an endpoint override.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `operation` answers `answers`, one per call, from now on (its count restarts).
    pub fn script(&self, operation: &str, answers: Vec<Answer>) -> &Self {
        let mut script = self.lock();
        script.answers.insert(operation.to_owned(), answers);
        script.served.remove(operation);
        self
    }

    /// Appends `<unix ms> <operation>` to `path` for every call from now on (for a
    /// benchmark that times what forge does after an answer).
    pub fn log_to(&self, path: impl Into<std::path::PathBuf>) -> &Self {
        self.lock().log = Some(path.into());
        self
    }

    /// Every call so far: operation and request body.
    pub fn calls(&self) -> Vec<(String, serde_json::Value)> {
        self.lock().calls.clone()
    }

    /// How many times `operation` was called.
    pub fn count(&self, operation: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|(op, _)| op == operation)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Answers the requests of one keep-alive connection.
fn serve(stream: TcpStream, script: &Mutex<Script>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let Some((target, body)) = read_request(&mut reader) else {
            return;
        };
        // JSON protocols name the operation in `x-amz-target`; the query protocol in the
        // form body's `Action`.
        let query = target.is_empty();
        let (operation, request) = if query {
            let form = String::from_utf8_lossy(&body).into_owned();
            let fields: serde_json::Map<String, serde_json::Value> = form
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(percent_decode(v))))
                .collect();
            let action = fields
                .get("Action")
                .and_then(|a| a.as_str())
                .unwrap_or_default()
                .to_owned();
            (action, serde_json::Value::Object(fields))
        } else {
            (
                target.rsplit('.').next().unwrap_or_default().to_owned(),
                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            )
        };
        let answer = {
            let mut script = script.lock().unwrap_or_else(|e| e.into_inner());
            script.calls.push((operation.clone(), request));
            if let Some(log) = &script.log {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let line = format!("{ms} {operation}\n");
                let _ = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .and_then(|mut f| f.write_all(line.as_bytes()));
            }
            let n = script.served.entry(operation.clone()).or_insert(0);
            let index = *n;
            *n += 1;
            script
                .answers
                .get(&operation)
                .and_then(|answers| answers.get(index).or(answers.last()).cloned())
        };
        let (status, body) = match answer {
            Some(Answer::Ok(json)) => ("200 OK", json.to_string()),
            Some(Answer::Xml(xml)) => ("200 OK", xml),
            Some(Answer::Error { code, message }) if query => (
                "400 Bad Request",
                format!(
                    "<ErrorResponse><Error><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"
                ),
            ),
            Some(Answer::Error { code, message }) => (
                "400 Bad Request",
                serde_json::json!({ "__type": code, "message": message }).to_string(),
            ),
            None => (
                "400 Bad Request",
                serde_json::json!({
                    "__type": "InvalidAction",
                    "message": format!("the replay endpoint has no script for {operation}"),
                })
                .to_string(),
            ),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
            if query {
                "text/xml"
            } else {
                "application/x-amz-json-1.1"
            },
            body.len()
        );
        // One write: a head and a body in two segments would meet the client's delayed
        // ACK (Nagle), 40 ms per call that forge never spends against AWS.
        if out.write_all(format!("{head}{body}").as_bytes()).is_err() {
            return;
        }
    }
}

/// `%XX` and `+` of a form value, decoded.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&value[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One request's `x-amz-target` and body; `None` when the connection ends.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut target = String::new();
    let mut length = 0usize;
    let mut line = String::new();
    // The request line, then headers up to the blank line.
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "x-amz-target" => target = value.trim().to_owned(),
                "content-length" => length = value.trim().parse().ok()?,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((target, body))
}
