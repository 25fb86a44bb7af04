//! The invocation span, end to end: the real lambda_runtime loop, the real OTLP/HTTP exporter,
//! a loopback Runtime API and a loopback collector decoding what arrives.

mod common;

use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use common::timeline::TimelineEvent;
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use opentelemetry::trace::{Tracer, TracerProvider as _};
use serde_json::{Value, json};

const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::warn!(answer = 42, "straight in the handler");
    tracing::debug!("too chatty for telemetry");
    let work = tracing::info_span!("work", step = "one");
    work.in_scope(|| {
        opentelemetry::global::tracer_provider()
            .tracer("api")
            .in_span("api-child", |_| ());
    });
    let is_http = event.payload.get("requestContext").is_some();
    Ok(if is_http {
        json!({"statusCode": 200, "body": "{}"})
    } else {
        event.payload
    })
}

fn invocations() -> Vec<Invocation> {
    vec![
        Invocation::new("req-1", event("apigw-v2-roll.json")).with_xray(XRAY),
        Invocation::new("req-2", br#"{"hello":"world"}"#.to_vec()),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn one_span_per_invocation_with_the_faas_attributes() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(3).await;

    let (_, http) = function.invocation_span("req-1");
    assert_eq!(http.name, "GET /rolldice");
    assert_eq!(http.kind, 2, "server");
    assert_eq!(http.attr_str("faas.trigger"), Some("http"));
    assert_eq!(http.attr_bool("faas.coldstart"), Some(true));
    assert_eq!(http.attr_str("http.request.method"), Some("GET"));
    assert_eq!(http.attr_str("http.route"), Some("/rolldice"));
    assert_eq!(http.attr_int("http.response.status_code"), Some(200));
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:test-fn";
    assert_eq!(http.attr_str("aws.lambda.invoked_arn"), Some(arn));
    assert_eq!(http.attr_str("cloud.resource_id"), Some(arn));
    assert_eq!(http.attr_str("cloud.account.id"), Some("123456789012"));
    assert!(
        http.attr_int("lambda_otel.init.duration_ns")
            .is_some_and(|ns| ns > 0)
    );
    assert_eq!(http.status_code, 0, "unset");
    let (_, logged) = http
        .events
        .iter()
        .find(|(name, _)| name == "straight in the handler")
        .expect("the handler's tracing event is an event of the invocation span");
    assert_eq!(logged.get("answer").and_then(|v| v.as_int()), Some(42));
    assert_eq!(logged.get("level").and_then(|v| v.as_str()), Some("WARN"));
    let levels: Vec<_> = http
        .events
        .iter()
        .filter_map(|(_, a)| a.get("level")?.as_str())
        .collect();
    assert!(
        levels.iter().all(|l| ["INFO", "WARN", "ERROR"].contains(l)),
        "debug and trace events (lambda_runtime's carries the raw event) stay out: {levels:?}"
    );

    let (_, other) = function.invocation_span("req-2");
    assert_eq!(other.name, "test-fn");
    assert_eq!(other.attr_str("faas.trigger"), Some("other"));
    assert_eq!(other.attr_bool("faas.coldstart"), Some(false));
    assert_eq!(other.attr_int("lambda_otel.init.duration_ns"), None);
    assert_eq!(other.attr_int("http.response.status_code"), None);

    for span in [&http, &other] {
        let duration = span
            .attr_int("lambda_otel.invocation.duration_ns")
            .expect("duration");
        let from_timestamps = i64::try_from(span.end_ns - span.start_ns).expect("fits");
        assert!(
            (duration - from_timestamps).abs() <= 1_000,
            "{duration} vs {from_timestamps}"
        );
        assert_eq!(
            span.resource.get("service.name").and_then(|v| v.as_str()),
            Some("test-fn")
        );
        assert_eq!(
            span.resource.get("cloud.provider").and_then(|v| v.as_str()),
            Some("aws")
        );
        assert_eq!(
            span.resource.get("cloud.region").and_then(|v| v.as_str()),
            Some("eu-west-1")
        );
        assert_eq!(
            span.resource.get("faas.name").and_then(|v| v.as_str()),
            Some("test-fn")
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_xray_header_gives_trace_and_parent_and_handler_spans_are_children() {
    // Lambda's X-Ray header gives the parent only through `xray-lambda` (the default is
    // `tracecontext,baggage`). The event's own `x-amzn-trace-id` has a Root but no Parent, so
    // it is Lambda's header that names the trace asserted below.
    // SAFETY: cargo nextest runs one test per process; nothing reads the environment yet.
    unsafe { std::env::set_var("OTEL_PROPAGATORS", "xray-lambda") };
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(3).await;

    let (_, http) = function.invocation_span("req-1");
    assert_eq!(http.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(http.parent_span_id, "53995c3f42cd8ad8");
    let (_, other) = function.invocation_span("req-2");
    assert_eq!(other.parent_span_id, "", "no header, no parent");
    assert_ne!(other.trace_id, http.trace_id);

    for invocation in [&http, &other] {
        let spans: Vec<_> = function.spans().into_iter().map(|(_, s)| s).collect();
        let work = spans
            .iter()
            .find(|s| s.name == "work" && s.trace_id == invocation.trace_id)
            .expect("the tracing span of the handler");
        assert_eq!(work.parent_span_id, invocation.span_id);
        let api = spans
            .iter()
            .find(|s| s.name == "api-child" && s.trace_id == invocation.trace_id)
            .expect("the OpenTelemetry API span of the handler");
        assert_eq!(api.parent_span_id, work.span_id);
    }
}

/// The freeze guarantee: every span of invocation N is at the collector before the runtime
/// asks for invocation N+1.
fn assert_spans_before_next_poll(function: &Function, ids: &[&str]) {
    for (i, id) in ids.iter().enumerate() {
        let (arrived, _) = function.invocation_span(id);
        let next = function.position(|e| e.is_next_poll(i + 2), "the next poll");
        assert!(
            arrived < next,
            "{id}: span after the next /next:\n{}",
            function.timeline.describe()
        );
        for (at, span) in function.spans() {
            if span.name == "work" && span.trace_id == function.invocation_span(id).1.trace_id {
                assert!(at < next, "{id}: child span after the next /next");
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn after_response_mode_exports_after_the_response_and_before_the_next_poll() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(3).await;

    assert_spans_before_next_poll(&function, &["req-1", "req-2"]);
    for id in ["req-1", "req-2"] {
        let (arrived, _) = function.invocation_span(id);
        let response = function.position(|e| e.is_outcome_for(id), "the response");
        assert!(response < arrived, "{id}: the caller waited for the export");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn before_response_mode_exports_before_the_response_is_posted() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| {
        b.with_flush_mode(lambda_otel::FlushMode::BeforeResponse)
    });
    function.run(handler);
    function.wait_for_next_polls(3).await;

    assert_spans_before_next_poll(&function, &["req-1", "req-2"]);
    for id in ["req-1", "req-2"] {
        let (arrived, _) = function.invocation_span(id);
        let response = function.position(|e| e.is_outcome_for(id), "the response");
        assert!(arrived < response, "{id}: exported after the response");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_on_a_multi_thread_runtime_too() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(3).await;
    assert_spans_before_next_poll(&function, &["req-1", "req-2"]);
}

/// On a runtime with an IO driver and no timer (lambda_runtime needs no more): the exports run
/// on it, each deadline kept by lambda-otel's own clock; a Tokio timer there would panic.
#[test]
fn works_on_a_runtime_without_a_timer() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let function = Function::start(invocations(), Behaviour::Ok, |b| b);
        function.run(handler);
        function.wait_for_next_polls(3).await;
        assert_spans_before_next_poll(&function, &["req-1", "req-2"]);
    });
}

#[tokio::test(flavor = "current_thread")]
async fn without_the_handler_wrapper_the_span_is_still_recorded_and_flushed() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| {
        b.with_flush_mode(lambda_otel::FlushMode::BeforeResponse)
    });
    let otel = function.telemetry.layer();
    tokio::spawn(Runtime::new(service_fn(handler)).layer(otel).run());
    function.wait_for_next_polls(3).await;
    assert_spans_before_next_poll(&function, &["req-1", "req-2"]);
    assert!(matches!(
        function.timeline.events().last(),
        Some(TimelineEvent::NextPolled { n: 3 })
    ));
}

#[cfg(feature = "lambda-http")]
#[tokio::test(flavor = "current_thread")]
async fn lambda_http_handlers_report_their_status_code() {
    use lambda_http::{Adapter, Body, Request, Response};

    async fn not_found(_request: Request) -> Result<Response<Body>, Error> {
        Ok(Response::builder()
            .status(404)
            .body(Body::from("{}"))
            .expect("valid response"))
    }

    let invocations = vec![Invocation::new("req-1", event("apigw-v2-wrong-path.json"))];
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    let otel = function.telemetry.layer();
    let handler = lambda_http::service_fn(not_found);
    tokio::spawn(
        Runtime::new(Adapter::from(otel.wrap(handler)))
            .layer(otel)
            .run(),
    );
    function.wait_for_next_polls(2).await;

    let (_, span) = function.invocation_span("req-1");
    assert_eq!(span.attr_int("http.response.status_code"), Some(404));
    assert_eq!(span.status_code, 0, "a 4xx is not a server error");
    assert_eq!(span.attr_str("url.path"), Some("/other"));
}
