//! The `hostile` fixture through the host: a flood of progress calls becomes a few
//! `step-progress` events, and an oversized error or help is capped where it enters forge.

use forge_engine::events::Event;
use forge_host::{Host, HostConfig, RunError};

use crate::fixtures::{Project, code};

fn host() -> Host {
    Host::new(HostConfig::default()).expect("host")
}

#[tokio::test]
async fn a_flood_of_progress_calls_becomes_a_few_ordered_events() {
    let project = Project::new();
    let (spec, mut events) = project.spec(&[], &[], r#"{"mode": "progress", "total": 100000}"#);
    host()
        .run(&code("hostile"), spec)
        .await
        .unwrap_or_else(|e| panic!("the progress run failed: {e:?}"));
    let progress: Vec<(String, u64, u64)> = events
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            Event::StepProgress { step, done, total } => Some((step, done, total)),
            _ => None,
        })
        .collect();
    // 100,001 calls: the first, one per whole percent, the last, and at most one more per
    // 100 ms whatever the percentage; a thousand would take the run 90 s.
    assert!(
        (2..=1000).contains(&progress.len()),
        "{} events for 100,001 progress calls",
        progress.len()
    );
    assert!(
        progress
            .iter()
            .all(|(step, _, total)| step == "fixture-step" && *total == 100_000)
    );
    assert_eq!(
        progress.first().map(|p| p.1),
        Some(0),
        "the first report is sent"
    );
    assert_eq!(
        progress.last().map(|p| p.1),
        Some(100_000),
        "the last report is sent"
    );
    assert!(
        progress.windows(2).all(|w| w[0].1 < w[1].1),
        "progress only moves forward: {progress:?}"
    );
}

#[tokio::test]
async fn an_oversized_step_error_and_help_are_capped_with_a_note() {
    let project = Project::new();
    let (spec, _) = project.spec(&[], &[], r#"{"mode": "big", "mib": 4}"#);
    let failure = match host().run(&code("hostile"), spec).await {
        Err(RunError::Plugin(failure)) => failure,
        other => panic!("expected the plugin's own error, got {other:?}"),
    };
    let help = failure.help.expect("the plugin gave help");
    for text in [&failure.message, &help] {
        // 16 KiB of the text, then the note: 4 MiB less the 16 KiB kept.
        let dropped = 4 * 1024 * 1024 - 16 * 1024;
        assert!(
            text.ends_with(&format!("… [{dropped} more bytes dropped]")),
            "ends with: {}",
            text.chars().rev().take(60).collect::<String>()
        );
        assert!(text.len() < 16 * 1024 + 64, "{} bytes kept", text.len());
        assert!(text.starts_with("éé"), "the start is kept");
    }
}
