//! The flush's bounds hold whatever else is under way: behind background exports of a long
//! invocation, with a collector that never answers, and with invocations running side by side
//! (`run_concurrent`, Lambda Managed Instances).

mod common;

use common::child::run_ignored;
use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use common::timeline::{Timeline, TimelineEvent};
use lambda_otel::FlushMode;
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 600 spans: past the 512 that start a background export in the middle of the invocation.
async fn many_spans(_: LambdaEvent<Value>) -> Result<Value, Error> {
    for i in 0..600 {
        tracing::info_span!("step", i).in_scope(|| ());
    }
    Ok(json!({"statusCode": 200, "body": "done"}))
}

/// An invocation whose deadline is a second away.
fn due_in_a_second() -> Invocation {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let deadline = u64::try_from(now_ms).expect("fits") + 1_000;
    Invocation::new("long", event("apigw-v2-roll.json")).with_deadline_ms(deadline)
}

/// With a 60 s flush timeout and a collector that never answers, only the invocation's
/// deadline can end the flush, background exports included: if anything waited for the
/// timeout, the harness would give up waiting for the next poll long before.
async fn bounded_by_the_deadline(mode: FlushMode) -> Function {
    let function = Function::start(vec![due_in_a_second()], Behaviour::NeverAnswer, |b| {
        b.with_flush_timeout(Duration::from_secs(60))
            .with_flush_mode(mode)
    });
    function.run(many_spans);
    function.wait_for_next_polls(2).await;
    function
}

#[tokio::test(flavor = "current_thread")]
async fn after_response_the_next_event_is_asked_for_by_the_deadline_behind_background_exports() {
    let function = bounded_by_the_deadline(FlushMode::AfterResponse).await;
    let response = function.position(|e| e.is_outcome_for("long"), "the response");
    let next = function.position(|e| e.is_next_poll(2), "the next poll");
    assert!(response < next);
}

#[tokio::test(flavor = "current_thread")]
async fn before_response_the_response_is_posted_by_the_deadline_behind_background_exports() {
    let function = bounded_by_the_deadline(FlushMode::BeforeResponse).await;
    let events = function.timeline.events();
    assert!(
        events.iter().any(|e| matches!(e,
            TimelineEvent::ResponsePosted { request_id, .. } if request_id == "long")),
        "{}",
        function.timeline.describe()
    );
}

/// Each invocation's own work, tagged with its request id.
async fn tagged(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let id = event.context.request_id.clone();
    tracing::info_span!("work", request = %id).in_scope(|| ());
    Ok(json!({"id": id}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_invocations_side_by_side_each_get_their_spans_out() {
    const N: usize = 32;
    let invocations: Vec<_> = (0..N)
        .map(|i| Invocation::new(format!("req-{i}"), br#"{"n":1}"#.to_vec()))
        .collect();
    // SAFETY: one test per process (cargo-nextest), before the runtime reads its config.
    unsafe { std::env::set_var("AWS_LAMBDA_MAX_CONCURRENCY", N.to_string()) };
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    let otel = function.telemetry.layer();
    tokio::spawn(
        Runtime::new(otel.wrap(service_fn(tagged)))
            .layer(otel)
            .run_concurrent(),
    );
    let timeline = function.timeline.clone();
    tokio::task::spawn_blocking(move || {
        timeline.wait_for_outcomes(N);
        timeline.wait_for_spans(2 * N);
    })
    .await
    .expect("the waits");
    let spans = function.spans();
    let mut ids = HashSet::new();
    for i in 0..N {
        let request_id = format!("req-{i}");
        let (_, invocation) = function.invocation_span(&request_id);
        let work: Vec<_> = spans
            .iter()
            .filter(|(_, s)| s.name == "work" && s.attr_str("request") == Some(&request_id))
            .collect();
        assert_eq!(work.len(), 1, "{request_id}");
        assert_eq!(
            work[0].1.parent_span_id, invocation.span_id,
            "{request_id}'s own parent"
        );
        assert!(ids.insert(invocation.span_id.clone()));
    }
}

/// `b` returns only once `a`'s spans are at the collector, waiting for an answer.
async fn b_after_a_s_export(event: LambdaEvent<Value>, timeline: Timeline) -> Result<Value, Error> {
    if event.context.request_id == "b" {
        tokio::task::spawn_blocking(move || {
            timeline.wait_for(
                |events| {
                    events.iter().any(|e| {
                        e.exported_spans()
                            .iter()
                            .any(|s| s.attr_str("faas.invocation_id") == Some("a"))
                    })
                },
                "a's spans at the collector",
            )
        })
        .await
        .expect("the wait");
    }
    Ok(json!({"id": event.context.request_id}))
}

/// The collector answers a span export only when a second one is pending too
/// ([`Behaviour::SpansInPairs`]), and `b` ends only once `a`'s export is pending: both
/// invocations' spans arrive only if `b`'s flush exports while `a`'s export is still in flight.
/// Behind one export queue, `b`'s export would wait for `a`'s answer, which never comes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invocation_s_flush_does_not_wait_behind_another_s_export() {
    // Two minutes: past the harness's 30 s wait, so only exports side by side can pass.
    let deadline_ms = u64::try_from(
        (SystemTime::now() + Duration::from_secs(120))
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("fits");
    let invocations = ["a", "b"]
        .map(|id| Invocation::new(id, br#"{"n":1}"#.to_vec()).with_deadline_ms(deadline_ms))
        .to_vec();
    // SAFETY: one test per process (cargo-nextest), before the runtime reads its config.
    unsafe { std::env::set_var("AWS_LAMBDA_MAX_CONCURRENCY", "2") };
    let function = Function::start(invocations, Behaviour::SpansInPairs, |b| {
        b.with_flush_timeout(Duration::from_secs(60))
    });
    let otel = function.telemetry.layer();
    let timeline = function.timeline.clone();
    let handler = service_fn(move |event| b_after_a_s_export(event, timeline.clone()));
    tokio::spawn(
        Runtime::new(otel.wrap(handler))
            .layer(otel)
            .run_concurrent(),
    );
    let timeline = function.timeline.clone();
    tokio::task::spawn_blocking(move || timeline.wait_for_spans(2))
        .await
        .expect("the waits");
    function.invocation_span("a");
    function.invocation_span("b");
}

/// The child's last line: how many spans the collector received.
const RECEIVED_MARKER: &str = "spans-received";

/// 100,000 spans as fast as they can be made, far more than the buffer holds, in one
/// invocation (whose own span makes 100,001).
async fn burst(_: LambdaEvent<Value>) -> Result<Value, Error> {
    for i in 0..100_000 {
        tracing::info_span!("burst", i).in_scope(|| ());
    }
    Ok(json!({"ok": true}))
}

/// The function of the burst test, run by it in a child process so its stdout (where the
/// warnings go) can be read.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by every_span_of_a_burst_is_exported_or_counted"]
async fn burst_function() {
    let invocations = vec![Invocation::new("burst", br#"{}"#.to_vec())];
    // No export is cut off (a cut-off export may still have reached the collector): what is
    // lost is what the buffer could not hold, every item of it counted.
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        b.with_flush_timeout(Duration::from_secs(60))
    });
    function.run(burst);
    function.wait_for_next_polls(2).await;
    function.telemetry.shutdown().await;
    // Every span counts, the invocation span's included (tests/caps.rs: a full buffer lets
    // it through).
    let received = function.spans().len();
    println!("{RECEIVED_MARKER} {received}");
}

/// The `lost_spans=` value of a warning line.
fn lost_spans(line: &str) -> usize {
    common::child::count(line, "lost_spans").unwrap_or_else(|| panic!("no lost_spans in {line}"))
}

#[test]
fn every_span_of_a_burst_is_exported_or_counted() {
    let stdout = run_ignored("burst_function", &[]);
    let received: usize = stdout
        .lines()
        .find_map(|l| l.split(RECEIVED_MARKER).nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in:\n{stdout}"));
    // Every message says what was lost since the one before.
    let lost: usize = stdout
        .lines()
        .filter(|l| l.contains("lost_spans="))
        .map(lost_spans)
        .sum();
    assert!(lost > 0, "the burst is larger than the buffer:\n{stdout}");
    assert_eq!(
        received + lost,
        100_000 + 1,
        "received {received}, counted lost {lost}"
    );
}

async fn long_error(_: LambdaEvent<Value>) -> Result<Value, Error> {
    Err(format!("bad input: {}", "x".repeat(100_000)).into())
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_error_message_is_recorded_cut_to_1024_bytes() {
    let invocations = vec![Invocation::new("long-error", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    function.run(long_error);
    function.wait_for_next_polls(2).await;
    let (_, span) = function.invocation_span("long-error");
    assert_eq!(span.status_code, 2, "error status");
    assert!(span.status_message.starts_with("bad input: xxx"));
    assert_eq!(span.status_message.len(), 1024);
    let (_, exception) = span
        .events
        .iter()
        .find(|(name, _)| name == "exception")
        .expect("exception event");
    let message = exception
        .get("exception.message")
        .and_then(|v| v.as_str())
        .expect("a message");
    assert_eq!(message.len(), 1024);
}

/// A request body recorded whole by the handler, 100 KB.
async fn records_a_long_value(_: LambdaEvent<Value>) -> Result<Value, Error> {
    let body = "b".repeat(100_000);
    tracing::info_span!("parse", request.body = body.as_str()).in_scope(|| ());
    Ok(json!({"statusCode": 200}))
}

/// The `parse` span's body attribute, with `limit` set in code (or the default).
async fn recorded_body(limit: Option<usize>) -> String {
    let invocations = vec![Invocation::new("long-value", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::Ok, |b| match limit {
        Some(bytes) => b.with_attribute_value_length_limit(bytes),
        None => b,
    });
    function.run(records_a_long_value);
    function.wait_for_next_polls(2).await;
    let spans = function.spans();
    let (_, parse) = spans
        .iter()
        .find(|(_, span)| span.name == "parse")
        .expect("the parse span");
    parse
        .attr_str("request.body")
        .expect("the body attribute")
        .to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_attribute_value_is_cut_to_4096_bytes_by_default() {
    assert_eq!(recorded_body(None).await, "b".repeat(4096));
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_attribute_value_is_cut_to_the_configured_limit() {
    assert_eq!(recorded_body(Some(10)).await, "b".repeat(10));
}
