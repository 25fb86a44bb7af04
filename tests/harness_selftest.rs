//! Proves the shared harness in `tests/common` against the real
//! `lambda_runtime` loop and hand-made OTLP exports, without any telemetry
//! crate, so later tests can trust what it records.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::otlp::{Behaviour, OtlpReceiver, Value};
use common::runtime_api::{Invocation, RuntimeApi};
use common::timeline::{Timeline, TimelineEvent};
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::json;

/// Invocations `id-1`..`id-{count}` with payloads `{"n": i}`.
fn numbered_invocations(count: usize) -> Vec<Invocation> {
    (1..=count)
        .map(|i| {
            let payload = serde_json::to_vec(&json!({ "n": i })).expect("json");
            Invocation::new(format!("id-{i}"), payload)
        })
        .collect()
}

/// Runs the real runtime loop on this test's runtime until every invocation
/// is answered and the runtime has polled `/next` once more, then stops it.
async fn run_until_idle<F, Fut>(invocations: Vec<Invocation>, handler: F) -> Timeline
where
    F: Fn(LambdaEvent<serde_json::Value>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<serde_json::Value, Error>> + Send + 'static,
{
    let timeline = Timeline::new();
    let outcomes = invocations.len();
    let api = RuntimeApi::start(timeline.clone(), invocations);
    api.set_env();
    let runtime = tokio::spawn(Runtime::new(service_fn(handler)).run());

    // Blocking waits go off the runtime thread: the runtime loop must keep
    // being polled on this (current_thread) runtime while we wait.
    let waiter = timeline.clone();
    tokio::task::spawn_blocking(move || {
        waiter.wait_for_outcomes(outcomes);
        waiter.wait_for_next_polls(outcomes + 1);
    })
    .await
    .expect("the runtime loop reached the expected state");

    // The last `/next` is held forever, so the loop never ends by itself.
    runtime.abort();
    timeline
}

fn next_poll(n: usize) -> impl Fn(&TimelineEvent) -> bool {
    move |e| e.is_next_poll(n)
}

fn outcome(id: &str) -> impl Fn(&TimelineEvent) -> bool + '_ {
    move |e| e.is_outcome_for(id)
}

#[tokio::test]
async fn runtime_polls_next_only_after_posting_each_response() {
    let timeline = run_until_idle(
        numbered_invocations(2),
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    )
    .await;

    let order = [
        timeline.position(next_poll(1), "next poll #1"),
        timeline.position(outcome("id-1"), "outcome of id-1"),
        timeline.position(next_poll(2), "next poll #2"),
        timeline.position(outcome("id-2"), "outcome of id-2"),
        timeline.position(next_poll(3), "next poll #3"),
    ];
    assert!(
        order.is_sorted(),
        "out of order {order:?}:\n{}",
        timeline.describe()
    );

    let responses: Vec<(String, serde_json::Value)> = timeline
        .events()
        .into_iter()
        .filter_map(|e| match e {
            TimelineEvent::ResponsePosted { request_id, body } => Some((
                request_id,
                serde_json::from_slice(&body).expect("JSON response"),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        responses,
        [
            ("id-1".to_owned(), json!({ "n": 1 })),
            ("id-2".to_owned(), json!({ "n": 2 }))
        ]
    );
}

#[tokio::test]
async fn handler_error_is_posted_to_the_error_endpoint() {
    let timeline = run_until_idle(
        numbered_invocations(1),
        |_: LambdaEvent<serde_json::Value>| async move {
            Err::<serde_json::Value, Error>("boom: bad input".into())
        },
    )
    .await;

    let error_at = timeline.position(outcome("id-1"), "outcome of id-1");
    assert!(error_at < timeline.position(next_poll(2), "next poll #2"));
    let TimelineEvent::ErrorPosted { body, .. } = &timeline.events()[error_at] else {
        panic!("expected an error post:\n{}", timeline.describe());
    };
    let diagnostic: serde_json::Value = serde_json::from_slice(body).expect("JSON error body");
    assert_eq!(diagnostic["errorMessage"], "boom: bad input");
    assert!(
        diagnostic["errorType"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{diagnostic}"
    );
}

#[tokio::test]
async fn invocation_headers_and_env_reach_the_handler_context() {
    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let invocation = Invocation::new("id-1", b"{}".to_vec())
        .with_xray(XRAY)
        .with_deadline_ms(4_102_444_800_000);
    let timeline = run_until_idle(
        vec![invocation],
        |event: LambdaEvent<serde_json::Value>| async move {
            let ctx = event.context;
            Ok::<_, Error>(json!({
                "xray": ctx.xray_trace_id,
                "deadline": ctx.deadline,
                "arn": ctx.invoked_function_arn,
                "function": ctx.env_config.function_name,
                "memory": ctx.env_config.memory,
                "log_group": ctx.env_config.log_group,
            }))
        },
    )
    .await;

    let seen = timeline.events();
    let Some(TimelineEvent::ResponsePosted { body, .. }) =
        seen.iter().find(|e| e.is_outcome_for("id-1"))
    else {
        panic!("expected a response for id-1:\n{}", timeline.describe());
    };
    let context: serde_json::Value = serde_json::from_slice(body).expect("JSON response");
    assert_eq!(
        context,
        json!({
            "xray": XRAY,
            "deadline": 4_102_444_800_000_u64,
            "arn": common::runtime_api::FUNCTION_ARN,
            "function": "test-fn",
            "memory": 128,
            "log_group": "/aws/lambda/test-fn",
        })
    );
}

fn string_attr(key: &str, value: &str) -> KeyValue {
    attr(key, any_value::Value::StringValue(value.to_owned()))
}

fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// One span with a string and an int attribute, an event, a parent and an
/// error status, under a resource and a scope.
fn sample_export() -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0xab; 8],
        parent_span_id: vec![0x0c; 8],
        name: "handler".to_owned(),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 2_000,
        attributes: vec![
            string_attr("faas.invocation_id", "id-1"),
            attr("http.status", any_value::Value::IntValue(503)),
        ],
        events: vec![opentelemetry_proto::tonic::trace::v1::span::Event {
            name: "exception".to_owned(),
            attributes: vec![string_attr("exception.message", "boom")],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2,
            message: "failed".to_owned(),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_attr("faas.name", "test-fn")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "selftest".to_owned(),
                    ..Default::default()
                }),
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Writes a complete `POST /v1/traces` with a plain socket, so the receiver is
/// exercised without any HTTP client crate and without a tokio runtime here.
fn post_export(endpoint: &str, content_type: &str, body: &[u8]) -> TcpStream {
    let addr = endpoint.strip_prefix("http://").expect("http endpoint");
    let mut stream = TcpStream::connect(addr).expect("receiver accepts connections");
    // A failure guard only: a correct receiver answers in milliseconds.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set read timeout");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    stream
}

/// Reads the whole response (the request asked for `Connection: close`).
fn read_response(mut stream: TcpStream) -> (u16, Vec<u8>) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete response head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    (status, raw[split + 4..].to_vec())
}

#[test]
fn receiver_decodes_a_protobuf_export() {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Ok);

    let request = sample_export().encode_to_vec();
    let (status, body) = read_response(post_export(
        &receiver.endpoint(),
        "application/x-protobuf",
        &request,
    ));
    assert_eq!(status, 200);
    ExportTraceServiceResponse::decode(body.as_slice())
        .expect("protobuf ExportTraceServiceResponse");

    assert_eq!(receiver.requests(), 1);
    let spans = receiver.spans();
    let [span] = spans.as_slice() else {
        panic!("expected one span, got {spans:#?}");
    };
    assert_eq!(span.name, "handler");
    assert_eq!(span.trace_id, "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(span.span_id, "abababababababab");
    assert_eq!(span.parent_span_id, "0c0c0c0c0c0c0c0c");
    assert_eq!((span.kind, span.start_ns, span.end_ns), (2, 1_000, 2_000));
    assert_eq!(span.attr_str("faas.invocation_id"), Some("id-1"));
    assert_eq!(span.attr_int("http.status"), Some(503));
    assert_eq!(span.attr_bool("faas.invocation_id"), None);
    assert_eq!(
        (span.status_code, span.status_message.as_str()),
        (2, "failed")
    );
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].0, "exception");
    assert_eq!(
        span.events[0].1["exception.message"],
        Value::Str("boom".to_owned())
    );
    assert_eq!(span.resource["faas.name"].as_str(), Some("test-fn"));
    assert_eq!(span.scope_name, "selftest");

    // The receiver records before it answers, so the event is already there.
    assert_eq!(timeline.events(), [TimelineEvent::SpansExported { spans }]);
}

#[test]
fn receiver_decodes_a_json_export() {
    let receiver = OtlpReceiver::start(Timeline::new(), Behaviour::Ok);

    let request = serde_json::to_vec(&sample_export()).expect("OTLP JSON");
    let (status, body) = read_response(post_export(
        &receiver.endpoint(),
        "application/json",
        &request,
    ));
    assert_eq!(status, 200);
    let _: ExportTraceServiceResponse = serde_json::from_slice(&body).expect("JSON response");

    let spans = receiver.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].trace_id, "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(spans[0].attr_int("http.status"), Some(503));
}

#[test]
fn status_behaviour_answers_that_status_after_recording() {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Status(503));

    let request = sample_export().encode_to_vec();
    let (status, _) = read_response(post_export(
        &receiver.endpoint(),
        "application/x-protobuf",
        &request,
    ));
    assert_eq!(status, 503);
    assert_eq!(receiver.spans().len(), 1);
    assert_eq!(timeline.events().len(), 1);
}

#[test]
fn delay_behaviour_answers_ok_after_the_delay() {
    const DELAY: Duration = Duration::from_millis(200);
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Delay(DELAY));

    let request = sample_export().encode_to_vec();
    let started = Instant::now();
    let stream = post_export(&receiver.endpoint(), "application/x-protobuf", &request);
    let (status, _) = read_response(stream);
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= DELAY,
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(timeline.events().len(), 1);
}

#[test]
fn never_answer_records_the_export_and_keeps_the_connection_open() {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::NeverAnswer);

    let request = sample_export().encode_to_vec();
    let mut stream = post_export(&receiver.endpoint(), "application/x-protobuf", &request);
    timeline.wait_for_spans(1);

    // Not synchronisation: a bounded check that nothing (not even a close)
    // arrives once the export has been recorded.
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("set read timeout");
    let mut byte = [0u8; 1];
    let err = stream
        .read(&mut byte)
        .expect_err("the receiver must not answer");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
}

#[test]
fn refused_endpoint_refuses_connections() {
    let endpoint = OtlpReceiver::refused_endpoint();
    let addr = endpoint.strip_prefix("http://").expect("http endpoint");
    let err = TcpStream::connect(addr).expect_err("nothing listens there");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}
