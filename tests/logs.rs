//! Log records, end to end: `tracing` events and `log` records become OpenTelemetry log
//! records carrying the ids of the span they were emitted in, exported before the runtime asks
//! for the next event.

// Log records need the `logs` feature.
#![cfg(feature = "logs")]

mod common;

use common::function::{Function, event};
use common::otlp::{Behaviour, ReceivedLog};
use common::runtime_api::Invocation;
use lambda_otel::Exporter;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info!(answer = 42, "straight in the handler");
    tracing::debug!("below the level");
    tracing::info_span!("inner").in_scope(|| tracing::warn!("inside a tracing span"));
    tracing_log::log::error!("from the log crate");
    Ok(json!({"statusCode": 200, "body": "{}"}))
}

fn invocations() -> Vec<Invocation> {
    vec![
        Invocation::new("req-1", event("apigw-v2-roll.json")),
        Invocation::new("req-2", event("apigw-v2-roll.json")),
    ]
}

fn logs(function: &Function) -> Vec<(usize, ReceivedLog)> {
    function
        .timeline
        .events()
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.exported_logs().iter().cloned().map(move |l| (i, l)))
        .collect()
}

/// The records whose body is `body`, one per invocation.
fn records(function: &Function, body: &str) -> Vec<(usize, ReceivedLog)> {
    logs(function)
        .into_iter()
        .filter(|(_, l)| l.body_str() == Some(body))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn log_records_carry_the_span_they_were_emitted_in() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(3).await;

    for (n, request_id) in ["req-1", "req-2"].into_iter().enumerate() {
        let (_, invocation) = function.invocation_span(request_id);
        let next = function.position(|e| e.is_next_poll(n + 2), "the next /next");

        let (at, handler_log) = records(&function, "straight in the handler").remove(n);
        assert!(at < next, "{}", function.timeline.describe());
        assert_eq!(handler_log.trace_id, invocation.trace_id);
        assert_eq!(handler_log.span_id, invocation.span_id);
        assert_eq!(handler_log.severity_number, 9, "INFO");
        assert_eq!(handler_log.severity_text, "INFO");
        assert_eq!(handler_log.attr_int("answer"), Some(42));
        // The tracing bridge leaves the event time to the SDK's observed time.
        let observed = handler_log.observed_ns;
        assert!(observed >= invocation.start_ns && observed <= invocation.end_ns);
        assert_eq!(
            handler_log
                .resource
                .get("service.name")
                .and_then(|v| v.as_str()),
            Some("test-fn")
        );

        let (at, inner_log) = records(&function, "inside a tracing span").remove(n);
        assert!(at < next);
        let (_, inner) = function
            .spans()
            .into_iter()
            .find(|(_, s)| s.name == "inner" && s.trace_id == invocation.trace_id)
            .expect("the tracing span is exported");
        assert_eq!(inner_log.trace_id, invocation.trace_id);
        assert_eq!(inner_log.span_id, inner.span_id, "the innermost span");
        assert_eq!(inner_log.severity_text, "WARN");

        let (at, log_crate) = records(&function, "from the log crate").remove(n);
        assert!(at < next);
        assert_eq!(log_crate.severity_number, 17, "ERROR");
        assert_eq!(log_crate.span_id, invocation.span_id);
        assert!(
            !log_crate.attributes.keys().any(|k| k.starts_with("log.")),
            "{:?}",
            log_crate.attributes
        );
        assert_eq!(
            log_crate.attr_str("code.module.name"),
            Some("logs"),
            "where the log call is, not tracing-log's bridge"
        );
    }
    assert!(
        records(&function, "below the level").is_empty(),
        "DEBUG is below the default level"
    );
    // Every record here is logged inside an invocation, so each carries a span's ids.
    assert!(
        logs(&function)
            .iter()
            .all(|(_, l)| l.trace_id.len() == 32 && l.span_id.len() == 16),
        "{:#?}",
        logs(&function)
    );
}

/// The keys spans use (tracing-opentelemetry's), not those the semantic conventions deprecated.
#[tokio::test(flavor = "current_thread")]
async fn log_records_say_where_they_were_logged_under_the_current_names() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(3).await;

    let (_, inner) = function
        .spans()
        .into_iter()
        .find(|(_, s)| s.name == "inner")
        .expect("the tracing span is exported");
    let bodies = [
        "straight in the handler",
        "inside a tracing span",
        "from the log crate",
    ];
    for body in bodies {
        let (_, record) = records(&function, body).remove(0);
        let file = record.attr_str("code.file.path");
        assert!(
            file.is_some_and(|f| f.ends_with("logs.rs")),
            "{body}: {file:?}"
        );
        let line = record.attr_int("code.line.number");
        assert!(line.is_some_and(|l| l > 0), "{body}: {line:?}");
        assert_eq!(record.attr_str("code.module.name"), Some("logs"), "{body}");
        for old in [
            "code.filepath",
            "code.lineno",
            "code.namespace",
            "code.filename",
        ] {
            assert!(
                !record.attributes.contains_key(old),
                "{body}: {old} in {:?}",
                record.attributes
            );
        }
    }
    // A span names its source the same way.
    assert!(
        inner
            .attr_str("code.file.path")
            .is_some_and(|f| f.ends_with("logs.rs"))
    );
    assert!(inner.attr_int("code.line.number").is_some());
    assert_eq!(inner.attr_str("code.module.name"), Some("logs"));
}

#[tokio::test(flavor = "current_thread")]
async fn the_lambda_log_level_applies_to_log_records() {
    // SAFETY: one test per process (nextest), before telemetry reads the environment.
    unsafe { std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "WARN") };
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(3).await;

    let mut bodies: Vec<String> = logs(&function)
        .into_iter()
        .filter_map(|(_, l)| l.body_str().map(str::to_owned))
        .collect();
    // OTLP groups records by scope, so the order within one export is not kept.
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "from the log crate",
            "from the log crate",
            "inside a tracing span",
            "inside a tracing span",
        ],
        "INFO and DEBUG stay out at WARN"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn logs_switched_off_are_not_exported() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| {
        b.with_logs_exporter(Exporter::None)
    });
    assert!(function.telemetry.logger_provider().is_none());
    function.run(handler);
    function.wait_for_next_polls(3).await;

    assert!(logs(&function).is_empty());
    assert_eq!(function.receiver.log_requests(), 0);
    function.invocation_span("req-2");
}

#[tokio::test(flavor = "current_thread")]
async fn a_collector_that_never_answers_costs_at_most_the_flush_timeout_for_all_signals() {
    let function = Function::start(invocations(), Behaviour::NeverAnswer, |b| {
        b.with_flush_timeout(std::time::Duration::from_millis(50))
    });
    function.run(handler);
    function.wait_for_next_polls(3).await;

    // Every signal reached the collector (which then hung) and the loop went on.
    assert!(function.receiver.requests() >= 2);
    assert!(function.receiver.metric_requests() >= 2);
    assert!(function.receiver.log_requests() >= 2);
    let responses = function
        .timeline
        .events()
        .iter()
        .filter(|e| e.is_outcome_for("req-1") || e.is_outcome_for("req-2"))
        .count();
    assert_eq!(responses, 2, "both responses were posted");
}

/// A message and a field of 100 KB each, copied from a request as careless code would.
async fn logs_a_long_request(_: LambdaEvent<Value>) -> Result<Value, Error> {
    let body = "b".repeat(100_000);
    tracing::info!(request.body = body.as_str(), "{}", "m".repeat(100_000));
    Ok(json!({"statusCode": 200}))
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_record_s_long_body_and_values_are_cut_to_the_limit() {
    let invocations = vec![Invocation::new("long", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        b.with_logs_exporter(Exporter::Otlp)
            .with_attribute_value_length_limit(100)
    });
    function.run(logs_a_long_request);
    function.wait_for_next_polls(2).await;
    let long = logs(&function)
        .into_iter()
        .map(|(_, l)| l)
        .find(|l| l.body_str().is_some_and(|b| b.starts_with('m')))
        .expect("the record");
    assert_eq!(long.body_str(), Some("m".repeat(100).as_str()));
    assert_eq!(
        long.attr_str("request.body"),
        Some("b".repeat(100).as_str())
    );
}
