//! Metrics, end to end: the FaaS metrics of every invocation and the function's own, decoded
//! at the loopback collector, exported before the runtime asks for the next event.

// Metrics need the `metrics` feature.
#![cfg(feature = "metrics")]

mod common;

use common::function::{Function, event};
use common::otlp::{Behaviour, Value};
use common::otlp::{MetricData, ReceivedMetric, Temporality};
use common::runtime_api::Invocation;
use common::timeline::TimelineEvent;
use lambda_otel::Exporter;
use lambda_runtime::{Error, LambdaEvent};
use opentelemetry::KeyValue;
use serde_json::{Value as Json, json};

/// Counts `app.orders` from the global meter, and fails when the event asks it to.
async fn handler(event: LambdaEvent<Json>) -> Result<Json, Error> {
    opentelemetry::global::meter("app")
        .u64_counter("app.orders")
        .build()
        .add(2, &[KeyValue::new("app.kind", "dice")]);
    if event.payload.get("fail").is_some() {
        return Err("asked to fail".into());
    }
    Ok(json!({"statusCode": 200, "body": "{}"}))
}

fn invocations() -> Vec<Invocation> {
    vec![
        Invocation::new("req-1", event("apigw-v2-roll.json")),
        Invocation::new("req-2", br#"{"fail":true}"#.to_vec()),
        Invocation::new("req-3", event("apigw-v2-roll.json")),
    ]
}

/// The metrics of each export, in order, with the timeline index of the export.
fn exports(function: &Function) -> Vec<(usize, Vec<ReceivedMetric>)> {
    function
        .timeline
        .events()
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, TimelineEvent::MetricsExported { .. }))
        .map(|(i, e)| (i, e.exported_metrics().to_vec()))
        .collect()
}

fn metric<'a>(metrics: &'a [ReceivedMetric], name: &str) -> &'a ReceivedMetric {
    metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:#?}", names(metrics)))
}

fn names(metrics: &[ReceivedMetric]) -> Vec<&str> {
    metrics.iter().map(|m| m.name.as_str()).collect()
}

/// The value of a sum's point for `faas.trigger = trigger`, or 0 when there is none yet.
fn count(metrics: &[ReceivedMetric], name: &str, trigger: &str) -> i64 {
    let Some(m) = metrics.iter().find(|m| m.name == name) else {
        return 0;
    };
    m.sum_points()
        .iter()
        .find(|p| p.attributes.get("faas.trigger") == Some(&Value::Str(trigger.into())))
        .and_then(|p| p.value.as_int())
        .unwrap_or(0)
}

#[tokio::test(flavor = "current_thread")]
async fn faas_metrics_of_each_invocation_arrive_before_the_next_event() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(4).await;

    let exports = exports(&function);
    assert_eq!(exports.len(), 3, "one metrics export per invocation");
    for (n, (at, metrics)) in exports.iter().enumerate() {
        let next = function.position(|e| e.is_next_poll(n + 2), "the next /next");
        assert!(
            *at < next,
            "invocation {} left metrics behind:\n{}",
            n + 1,
            function.timeline.describe()
        );
        // Cumulative by default: each export holds everything since the process started.
        let invocations = count(metrics, "faas.invocations", "http")
            + count(metrics, "faas.invocations", "other");
        assert_eq!(invocations, n as i64 + 1, "{:#?}", names(metrics));
    }

    let (_, last) = exports.last().expect("three exports");
    let invocations = metric(last, "faas.invocations");
    assert_eq!(invocations.unit, "{invocation}");
    assert_eq!(invocations.scope_name, "lambda-otel");
    assert_eq!(invocations.temporality(), Some(Temporality::Cumulative));
    assert!(matches!(
        invocations.data,
        MetricData::Sum {
            monotonic: true,
            ..
        }
    ));
    assert_eq!(count(last, "faas.invocations", "http"), 2);
    assert_eq!(count(last, "faas.invocations", "other"), 1);
    assert_eq!(
        count(last, "faas.errors", "other"),
        1,
        "the failed invocation"
    );
    assert_eq!(count(last, "faas.errors", "http"), 0);
    assert_eq!(count(last, "faas.coldstarts", "http"), 1, "only the first");
    assert_eq!(count(last, "faas.coldstarts", "other"), 0);

    let duration = metric(last, "faas.invoke_duration");
    assert_eq!(duration.unit, "s");
    let http = duration.histogram_point("faas.trigger", "http");
    assert_eq!(http.count, 2);
    assert!(http.sum.is_some_and(|s| s > 0.0 && s < 30.0), "{http:?}");
    assert_eq!(http.bounds.first(), Some(&0.001));
    assert_eq!(http.bounds.last(), Some(&900.0));
    assert_eq!(http.bucket_counts.len(), http.bounds.len() + 1);
    let init = metric(last, "faas.init_duration").histogram_point("faas.trigger", "http");
    assert_eq!(init.count, 1, "the cold start only");

    let orders = metric(last, "app.orders");
    assert_eq!(orders.scope_name, "app");
    assert_eq!(
        orders.sum_point("app.kind", "dice").value.as_int(),
        Some(6),
        "the function's own metrics ride on the same flush"
    );
    assert_eq!(
        invocations.resource.get("service.name"),
        Some(&Value::Str("test-fn".into())),
        "{:?}",
        invocations.resource
    );
    assert_eq!(
        invocations.resource.get("cloud.platform"),
        Some(&Value::Str("aws_lambda".into()))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn delta_temporality_exports_each_invocation_on_its_own() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| {
        b.with_temporality(opentelemetry_sdk::metrics::Temporality::Delta)
    });
    function.run(handler);
    function.wait_for_next_polls(4).await;

    let exports = exports(&function);
    assert_eq!(exports.len(), 3);
    for (_, metrics) in &exports {
        let invocations = metric(metrics, "faas.invocations");
        assert_eq!(invocations.temporality(), Some(Temporality::Delta));
        let total: i64 = invocations
            .sum_points()
            .iter()
            .filter_map(|p| p.value.as_int())
            .sum();
        assert_eq!(total, 1, "each export holds one invocation");
        assert_eq!(
            metric(metrics, "app.orders")
                .sum_point("app.kind", "dice")
                .value
                .as_int(),
            Some(2)
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_switched_off_are_neither_recorded_nor_exported() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| {
        b.with_metrics_exporter(Exporter::None)
    });
    assert!(function.telemetry.meter_provider().is_none());
    function.run(handler);
    function.wait_for_next_polls(4).await;

    assert!(
        exports(&function).is_empty(),
        "{}",
        function.timeline.describe()
    );
    assert_eq!(function.receiver.metric_requests(), 0);
    function.invocation_span("req-3");
}

#[tokio::test(flavor = "current_thread")]
async fn with_an_export_interval_metrics_go_with_the_first_invocation_then_at_shutdown() {
    // The standard's default interval (60 s): this test's three invocations come well within it.
    let function = Function::start(invocations(), Behaviour::Ok, |b| {
        b.with_metric_export_interval(std::time::Duration::from_secs(60))
    });
    function.run(handler);
    function.wait_for_next_polls(4).await;

    let exports = exports(&function);
    assert_eq!(
        exports.len(),
        1,
        "one metrics export in the interval: {}",
        function.timeline.describe()
    );
    let (at, first) = &exports[0];
    let second_poll = function.position(|e| e.is_next_poll(2), "the second /next");
    assert!(*at < second_poll, "{}", function.timeline.describe());
    assert_eq!(count(first, "faas.invocations", "http"), 1);
    // Spans are never held back.
    for id in ["req-1", "req-2", "req-3"] {
        function.invocation_span(id);
    }

    // Lambda's SIGTERM: what the interval held back goes out, nothing lost.
    function.telemetry.shutdown().await;
    let exports = self::exports(&function);
    assert_eq!(exports.len(), 2, "{}", function.timeline.describe());
    let (_, last) = &exports[1];
    assert_eq!(count(last, "faas.invocations", "http"), 2);
    assert_eq!(count(last, "faas.invocations", "other"), 1);
    assert_eq!(
        metric(last, "app.orders")
            .sum_point("app.kind", "dice")
            .value
            .as_int(),
        Some(6)
    );
}
