//! `forge-ecs-replay SCRIPT.json LOG`: the tests' scripted ECS endpoint
//! ([`forge_clients::testing::EcsReplay`]) as a process, for benchmarks. Prints its
//! endpoint on the first line of stdout, appends `<unix ms> <operation>` to `LOG` for
//! every call, and serves until killed.
//!
//! `SCRIPT.json` maps an operation to its answers, one per call (the last repeats):
//! `{"DescribeServices": [{…answer…}, {"__type": "ThrottlingException", "message": "…"}]}`;
//! an object with `__type` is an error answer.

use std::io::Write;

use forge_clients::testing::{Answer, EcsReplay};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [script, log] = args.as_slice() else {
        eprintln!("usage: forge-ecs-replay SCRIPT.json LOG");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(script).unwrap_or_else(|e| {
        eprintln!("forge-ecs-replay: cannot read {script}: {e}");
        std::process::exit(2);
    });
    let script: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .unwrap_or_else(|e| {
            eprintln!("forge-ecs-replay: {script} is not a JSON object: {e}");
            std::process::exit(2);
        });
    let replay = EcsReplay::start();
    replay.log_to(log);
    for (operation, answers) in script {
        let answers = answers
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|a| match a["__type"].as_str() {
                Some(code) => Answer::Error {
                    code: code.to_owned(),
                    message: a["message"].as_str().unwrap_or_default().to_owned(),
                },
                None => Answer::Ok(a),
            })
            .collect();
        replay.script(&operation, answers);
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", replay.endpoint());
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}
