//! The buffers' caps (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE`): set from the
//! environment, every item past them counted in the warnings, and never the invocation span.
//!
//! The collector holds every export until the function has posted its response
//! ([`Behaviour::UntilResponse`]): what a full buffer sends in the background keeps its place
//! in the cap while the handler runs, so which items the cap drops does not depend on how
//! fast the collector answers.

mod common;

use common::child::run_ignored;
use common::function::Function;
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// The caps the child's environment sets.
const CAP: usize = 10;
/// What the handler ends past them, of each signal.
const PAST: usize = 5;

/// The child's last line: what the collector received.
const RECEIVED_MARKER: &str = "received";

/// `CAP + PAST` spans, then as many log records.
async fn past_the_caps(_: LambdaEvent<Value>) -> Result<Value, Error> {
    for i in 0..CAP + PAST {
        tracing::info_span!("step", i).in_scope(|| ());
    }
    for i in 0..CAP + PAST {
        tracing::info!(i, "record");
    }
    Ok(json!({"ok": true}))
}

/// The function of the cap test, in a child process whose environment sets the caps, so its
/// stdout (where the warnings go) can be read.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by caps_from_the_environment_bound_spans_and_log_records"]
async fn capped_function() {
    let invocations = vec![Invocation::new("capped", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::UntilResponse, |b| b);
    function.run(past_the_caps);
    function.wait_for_next_polls(2).await;
    // The warnings the quiet period kept back are written at shutdown.
    function.telemetry.shutdown().await;
    let steps = function
        .spans()
        .iter()
        .filter(|(_, s)| s.name == "step")
        .count();
    let records = function
        .receiver
        .logs()
        .iter()
        .filter(|l| l.body_str() == Some("record"))
        .count();
    function.invocation_span("capped");
    println!("{RECEIVED_MARKER} {steps} {records}");
}

/// The sum of a warning field (`lost_spans`, `lost_log_records`) over every line that has it:
/// each message says what was lost since the one before.
fn lost(stdout: &str, field: &str) -> usize {
    stdout
        .lines()
        .filter_map(|l| common::child::count(l, field))
        .sum()
}

#[test]
fn caps_from_the_environment_bound_spans_and_log_records() {
    let cap = CAP.to_string();
    let stdout = run_ignored(
        "capped_function",
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", &cap),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", &cap),
        ],
    );
    let received: Vec<usize> = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RECEIVED_MARKER))
        .map(|counts| {
            counts
                .split_whitespace()
                .map(|n| n.parse().expect("a count"))
                .collect()
        })
        .unwrap_or_else(|| panic!("no counts in:\n{stdout}"));
    // Without the `logs` feature there is no log record to receive or lose.
    let (records, records_lost) = if cfg!(feature = "logs") {
        (CAP, PAST)
    } else {
        (0, 0)
    };
    assert_eq!(received, [CAP, records], "steps and records:\n{stdout}");
    assert_eq!(lost(&stdout, "lost_spans"), PAST, "{stdout}");
    assert_eq!(lost(&stdout, "lost_log_records"), records_lost, "{stdout}");
}

/// The default cap (2,048) and 100 more child spans.
async fn a_hundred_past_the_cap(_: LambdaEvent<Value>) -> Result<Value, Error> {
    for i in 0..2048 + 100 {
        tracing::info_span!("step", i).in_scope(|| ());
    }
    Ok(json!({"ok": true}))
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_buffer_never_drops_the_invocation_span() {
    let invocations = vec![Invocation::new("full", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::UntilResponse, |b| b);
    function.run(a_hundred_past_the_cap);
    function.wait_for_next_polls(2).await;
    let spans = function.spans();
    let steps = spans.iter().filter(|(_, s)| s.name == "step").count();
    assert_eq!(steps, 2048, "the cap's worth of child spans");
    let (_, invocation) = function.invocation_span("full");
    assert!(
        spans
            .iter()
            .all(|(_, s)| s.name != "step" || s.parent_span_id == invocation.span_id)
    );
}
