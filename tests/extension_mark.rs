//! The lambda-otel extension's mark (protocol v1): once an OTLP/HTTP export's answer carried
//! `lambda-otel-extension: 1`, the flush that ends each invocation sends, after every signal's
//! export, `POST /lambda-otel/v1/invocations/{request-id}/flushed` to the origin that answered,
//! so the extension can call its own `/next` at once. Without the header, nothing is sent; a
//! mark that is never answered holds the invocation no longer than the flush's bound.

// Every signal's export comes before the mark: the default features.
#![cfg(all(feature = "metrics", feature = "logs"))]

mod common;

use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use common::timeline::TimelineEvent;
use lambda_otel::{Exporter, FlushMode};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use std::time::Duration;

/// A request id with characters the mark's path percent-encodes (`_`, `.`, `~`), which
/// lambda_runtime passes through its own paths as they are.
const ENCODED_ID: &str = "id_2.b~c";

fn invocations() -> Vec<Invocation> {
    ["a-1", ENCODED_ID, "c-3"]
        .into_iter()
        .map(|id| Invocation::new(id, event("apigw-v2-roll.json")))
        .collect()
}

/// Every signal has something to export: a child span, a log record, and the FaaS metrics.
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info_span!("roll").in_scope(|| tracing::info!("rolled"));
    Ok(json!({"statusCode": 200, "body": event.context.request_id}))
}

fn is_export(event: &TimelineEvent) -> bool {
    matches!(
        event,
        TimelineEvent::SpansExported { .. }
            | TimelineEvent::MetricsExported { .. }
            | TimelineEvent::LogsExported { .. }
    )
}

/// Runs the three invocations against a receiver that answers like the extension, in `mode`,
/// and checks each invocation's mark: exactly one, with its request id, after every export of
/// its flush (spans, log records and metrics all came before it) and before the runtime's next
/// `/next`; after the response in after-response mode, before it in before-response mode.
async fn each_invocation_is_marked_once_after_its_exports(mode: FlushMode) {
    let function = Function::start(invocations(), Behaviour::Extension, |b| {
        b.with_flush_mode(mode)
    });
    function.run(handler);
    let events = function.wait_for_next_polls(4).await;
    let timeline = function.timeline.describe();
    assert_eq!(function.receiver.unknown_requests(), Vec::<String>::new());
    for (i, id) in ["a-1", ENCODED_ID, "c-3"].into_iter().enumerate() {
        let marks: Vec<usize> = (0..events.len())
            .filter(|&at| events[at].is_mark_for(id))
            .collect();
        assert_eq!(marks.len(), 1, "one mark for {id}:\n{timeline}");
        let mark = marks[0];
        let polled = function.position(|e| e.is_next_poll(i + 1), "the poll");
        let next = function.position(|e| e.is_next_poll(i + 2), "the next poll");
        assert!(polled < mark && mark < next, "{id}'s mark:\n{timeline}");
        let exports: Vec<usize> = (polled..next)
            .filter(|&at| is_export(&events[at]))
            .collect();
        assert!(
            exports.iter().all(|&at| at < mark),
            "{id}'s exports before its mark:\n{timeline}"
        );
        for (signal, exported) in [
            ("spans", matches_spans as fn(&TimelineEvent) -> bool),
            ("log records", matches_logs),
            ("metrics", matches_metrics),
        ] {
            assert!(
                exports.iter().any(|&at| exported(&events[at])),
                "{id}'s {signal} exported before its mark:\n{timeline}"
            );
        }
        let (span_at, _) = function.invocation_span(id);
        assert!(span_at < mark, "{id}'s span before its mark:\n{timeline}");
        let outcome = function.position(|e| e.is_outcome_for(id), "the response");
        match mode {
            FlushMode::AfterResponse => assert!(outcome < mark, "{timeline}"),
            FlushMode::BeforeResponse => assert!(mark < outcome, "{timeline}"),
        }
    }
}

fn matches_spans(event: &TimelineEvent) -> bool {
    !event.exported_spans().is_empty()
}

fn matches_logs(event: &TimelineEvent) -> bool {
    !event.exported_logs().is_empty()
}

fn matches_metrics(event: &TimelineEvent) -> bool {
    matches!(event, TimelineEvent::MetricsExported { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invocation_is_marked_once_after_its_exports_and_before_the_next_poll() {
    each_invocation_is_marked_once_after_its_exports(FlushMode::AfterResponse).await;
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_current_thread_runtime_each_invocation_is_marked_once_after_its_exports() {
    each_invocation_is_marked_once_after_its_exports(FlushMode::AfterResponse).await;
}

#[tokio::test(flavor = "current_thread")]
async fn before_response_the_mark_comes_after_the_exports_and_before_the_response() {
    each_invocation_is_marked_once_after_its_exports(FlushMode::BeforeResponse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_without_the_header_gets_no_mark() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    // A mark would come before the runtime's next `/next`: all of them are in by the fourth.
    let events = function.wait_for_next_polls(4).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, TimelineEvent::FlushedMarked { .. })),
        "{}",
        function.timeline.describe()
    );
    assert_eq!(function.receiver.unknown_requests(), Vec::<String>::new());
    for id in ["a-1", ENCODED_ID, "c-3"] {
        function.invocation_span(id);
    }
}

/// Logs only, and only `with-logs` logs anything: the second invocation has nothing to export.
async fn logs_only_in_the_first(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.context.request_id == "with-logs" {
        tracing::info!("something to export");
    }
    Ok(json!({"ok": true}))
}

#[tokio::test(flavor = "current_thread")]
async fn once_the_extension_is_known_an_invocation_with_nothing_to_export_is_marked_too() {
    let invocations = vec![
        Invocation::new("with-logs", br#"{}"#.to_vec()),
        Invocation::new("nothing", br#"{}"#.to_vec()),
    ];
    let function = Function::start(invocations, Behaviour::Extension, |b| {
        b.with_traces_exporter(Exporter::None)
            .with_metrics_exporter(Exporter::None)
    });
    function.run(logs_only_in_the_first);
    let events = function.wait_for_next_polls(3).await;
    let timeline = function.timeline.describe();
    let polled = function.position(|e| e.is_next_poll(2), "the second poll");
    let next = function.position(|e| e.is_next_poll(3), "the third poll");
    assert!(
        !events[polled..next].iter().any(is_export),
        "nothing exported for the second invocation:\n{timeline}"
    );
    for id in ["with-logs", "nothing"] {
        assert_eq!(
            events.iter().filter(|e| e.is_mark_for(id)).count(),
            1,
            "{id}:\n{timeline}"
        );
    }
    let mark = function.position(|e| e.is_mark_for("nothing"), "the mark");
    assert!(polled < mark && mark < next, "{timeline}");
}

/// The extension takes the exports, then never answers a mark. With a one-second flush bound,
/// each invocation's flush still ends: its span and the mark reached the receiver, and the
/// runtime asked for the next event (were the mark unbounded, the third poll would never
/// come, and the harness's 30 s wait would fail).
#[tokio::test(flavor = "current_thread")]
async fn a_mark_that_is_never_answered_holds_no_invocation_past_the_flush_bound() {
    let invocations = vec![
        Invocation::new("first", event("apigw-v2-roll.json")),
        Invocation::new("second", event("apigw-v2-roll.json")),
    ];
    let function = Function::start(invocations, Behaviour::ExtensionHangsOnMarks, |b| {
        b.with_flush_timeout(Duration::from_secs(1))
    });
    function.run(handler);
    let events = function.wait_for_next_polls(3).await;
    let timeline = function.timeline.describe();
    for (i, id) in ["first", "second"].into_iter().enumerate() {
        let next = function.position(|e| e.is_next_poll(i + 2), "the next poll");
        let (span_at, _) = function.invocation_span(id);
        let mark = function.position(|e| e.is_mark_for(id), "the mark");
        assert!(span_at < mark && mark < next, "{id}:\n{timeline}");
        assert_eq!(
            events.iter().filter(|e| e.is_mark_for(id)).count(),
            1,
            "{id}:\n{timeline}"
        );
    }
}
