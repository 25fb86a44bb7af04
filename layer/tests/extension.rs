//! The extension as Lambda runs it: a real process beside a real lambda-otel function (the
//! `lambda_runtime` loop), against the loopback Runtime, Extensions and Telemetry APIs of the
//! crate's harness (`tests/common`), forwarding to a loopback OTLP backend.
//!
//! Every order is asserted on the one timeline the servers share ("the span of invocation 1
//! was at the backend before the extension's `/next` #2"), never with timings. Where a test
//! must show that the extension did *not* wait for the Telemetry API, the emulation holds
//! platform records far longer than the test's own 30 s wait bound, so waiting for them fails
//! the test instead of slowing it.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::extension_process::ExtensionProcess;
use common::function::Function;
use common::otlp::{Behaviour, MetricData, OtlpReceiver};
use common::runtime_api::{Emulation, Invocation, RuntimeApi, ShutdownReason};
use common::timeline::{Timeline, TimelineEvent};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use lambda_otel::{Propagator, TelemetryBuilder};
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};

/// The name Lambda gives the extension: its file name in `/opt/extensions`.
const EXT: &str = "lambda-otel-extension";
/// Longer than any wait of the harness: platform records that never come during a test.
const NEVER: Duration = Duration::from_secs(600);

/// A free port on 127.0.0.1 for the extension's receiver (the function must know it first).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The extension binary, with its settings and the loopback addresses.
fn extension(port: u16, backend: &str, settings: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lambda-otel-extension"));
    command
        .env("LAMBDA_OTEL_EXTENSION_ENDPOINT", backend)
        .env("LAMBDA_OTEL_EXTENSION_LISTEN", format!("127.0.0.1:{port}"))
        .env("LAMBDA_OTEL_EXTENSION_TELEMETRY_HOST", "127.0.0.1");
    for (key, value) in settings {
        command.env(key, value);
    }
    command
}

fn invocations(n: usize) -> Vec<Invocation> {
    (1..=n)
        .map(|i| Invocation::new(format!("req-{i}"), json!({ "n": i }).to_string()))
        .collect()
}

/// A lambda-otel function exporting every signal to the extension on `port`, with the
/// extension beside it forwarding to the harness's backend.
fn start(
    n: usize,
    emulation: Emulation,
    backend: Behaviour,
    settings: &[(&str, &str)],
) -> (Function, ExtensionProcess) {
    let port = free_port();
    let configure =
        move |b: TelemetryBuilder| b.with_otlp_endpoint(format!("http://127.0.0.1:{port}"));
    let function = Function::start_emulated(
        Timeline::new(),
        invocations(n),
        emulation.with_external_extension(EXT),
        backend,
        configure,
    );
    let command = extension(port, &function.receiver.endpoint(), settings);
    let process = ExtensionProcess::spawn(EXT, command, &function.api, &function.timeline);
    (function, process)
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info!(n = %event.payload["n"], "rolled");
    Ok(json!({ "ok": true }))
}

/// Waits off the executor for `pred` on the timeline.
async fn wait(timeline: &Timeline, what: &'static str, pred: fn(&TimelineEvent) -> bool) {
    let timeline = timeline.clone();
    tokio::task::spawn_blocking(move || timeline.wait_for(|events| events.iter().any(pred), what))
        .await
        .expect("the wait panicked");
}

async fn wait_for_extension_polls(timeline: &Timeline, n: usize) {
    let timeline = timeline.clone();
    tokio::task::spawn_blocking(move || timeline.wait_for_extension_next_polls(EXT, n))
        .await
        .expect("the wait panicked");
}

#[tokio::test]
async fn each_invocation_is_at_the_backend_before_the_freeze_without_waiting_for_the_telemetry_api()
{
    let emulation = Emulation::default().with_telemetry_delay(NEVER);
    let (function, _extension) = start(3, emulation, Behaviour::Ok, &[]);
    function.run(handler);
    // Poll #1 ends init; poll #(i+1) comes after invocation i. Platform records never arrive,
    // so reaching poll #4 proves the function's marks ended the invocations.
    wait_for_extension_polls(&function.timeline, 4).await;
    for i in 1..=3 {
        let id = format!("req-{i}");
        let (span_at, span) = function.invocation_span(&id);
        // The runtime's own /next may come first: the environment freezes only once the
        // extension has called /next too.
        let freeze = function.position(|e| e.is_extension_next_poll(EXT, i + 1), "extension /next");
        assert!(
            span_at < freeze,
            "{id}'s span must reach the backend before the extension's next /next:\n{}",
            function.timeline.describe()
        );
        assert_eq!(span.attr_str("faas.invocation_id"), Some(id.as_str()));
    }
    assert!(
        !function
            .timeline
            .events()
            .iter()
            .any(|e| matches!(e, TimelineEvent::TelemetryDelivered { .. })),
        "no platform record was delivered, so none was waited for"
    );
}

#[tokio::test]
async fn without_the_functions_mark_the_invocation_ends_at_runtime_done() {
    // A function without lambda-otel: it exports one span itself and never marks.
    let timeline = Timeline::new();
    let backend = OtlpReceiver::start(timeline.clone(), Behaviour::Ok);
    let api = RuntimeApi::start_with(
        timeline.clone(),
        invocations(1),
        Emulation::default().with_external_extension(EXT),
    );
    api.set_env();
    let port = free_port();
    let _extension = ExtensionProcess::spawn(
        EXT,
        extension(port, &backend.endpoint(), &[]),
        &api,
        &timeline,
    );
    tokio::spawn(
        Runtime::new(service_fn(move |event: LambdaEvent<Value>| async move {
            export_one_span(port, &event.context.request_id).await;
            Ok::<_, Error>(json!({ "ok": true }))
        }))
        .run(),
    );
    wait_for_extension_polls(&timeline, 2).await;
    let done = timeline.position(
        |e| e.delivers("platform.runtimeDone", Some("req-1")),
        "runtimeDone delivered",
    );
    let freeze = timeline.position(|e| e.is_extension_next_poll(EXT, 2), "extension /next #2");
    let span = timeline.position(|e| !e.exported_spans().is_empty(), "span at the backend");
    assert!(
        done < freeze && span < freeze,
        "without a mark the extension waits for runtimeDone, then forwards, then calls /next:\n{}",
        timeline.describe()
    );
}

/// What a function without lambda-otel might send: one OTLP/JSON span, straight to `port`.
async fn export_one_span(port: u16, request_id: &str) {
    let body = json!({ "resourceSpans": [{ "scopeSpans": [{ "spans": [{
        "traceId": "5759e988bd862e3fe1be46a994272793",
        "spanId": "53995c3f42cd8ad8",
        "name": "handler",
        "kind": 2,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000001000000",
        "attributes": [{ "key": "faas.invocation_id", "value": { "stringValue": request_id } }],
    }]}]}]});
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the extension listens");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let request = http::Request::post("/v1/traces")
        .header(http::header::HOST, format!("127.0.0.1:{port}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid request");
    let response = sender.send_request(request).await.expect("an answer");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        response
            .headers()
            .get("lambda-otel-extension")
            .map(|v| v.as_bytes()),
        Some(&b"1"[..]),
        "the answer announces the extension's protocol"
    );
    let _ = response.into_body().collect().await;
}

#[tokio::test]
async fn deferred_mode_forwards_at_the_next_invoke_and_shutdown_drains_the_rest() {
    let emulation = Emulation::default().with_shutdown_after_last(ShutdownReason::Spindown);
    let (function, _extension) = start(
        2,
        emulation,
        Behaviour::Ok,
        &[("LAMBDA_OTEL_EXTENSION_MODE", "deferred")],
    );
    function.run(handler);
    wait(&function.timeline, "the extension's exit", |e| {
        e.is_extension_exit(EXT)
    })
    .await;
    let (first_at, _) = function.invocation_span("req-1");
    let (second_at, _) = function.invocation_span("req-2");
    let freeze_1 = function.position(|e| e.is_extension_next_poll(EXT, 2), "extension /next #2");
    let freeze_2 = function.position(|e| e.is_extension_next_poll(EXT, 3), "extension /next #3");
    let shutdown = function.position(|e| e.is_shutdown_sent(EXT), "SHUTDOWN");
    let exit = function.position(|e| e.is_extension_exit(EXT), "exit");
    assert!(
        freeze_1 < first_at && first_at < freeze_2,
        "req-1 is forwarded during req-2, not before its own freeze:\n{}",
        function.timeline.describe()
    );
    assert!(
        shutdown < second_at && second_at < exit,
        "the last invocation's span is forwarded at SHUTDOWN:\n{}",
        function.timeline.describe()
    );
    assert!(
        function
            .timeline
            .events()
            .contains(&TimelineEvent::ExtensionExited {
                name: EXT.to_owned(),
                code: Some(0)
            }),
        "the extension exits cleanly:\n{}",
        function.timeline.describe()
    );
}

#[tokio::test]
async fn on_managed_instances_it_registers_for_shutdown_only_and_forwards_in_the_background() {
    let emulation = Emulation::default()
        .with_managed_instances()
        .with_shutdown_after_last(ShutdownReason::Spindown);
    let (function, _extension) = start(
        2,
        emulation,
        Behaviour::Ok,
        &[("LAMBDA_OTEL_EXTENSION_MAX_DELAY_MS", "1")],
    );
    function.run(handler);
    // Both spans arrive while the extension's one /next is held (nothing else wakes it).
    let timeline = function.timeline.clone();
    tokio::task::spawn_blocking(move || timeline.wait_for_spans(2))
        .await
        .expect("the wait panicked");
    let registered: Vec<_> = function
        .timeline
        .events()
        .into_iter()
        .filter_map(|e| match e {
            TimelineEvent::ExtensionRegistered { name, events } if name == EXT => Some(events),
            _ => None,
        })
        .collect();
    assert_eq!(registered, [vec!["SHUTDOWN".to_owned()]]);
    function.invocation_span("req-1");
    function.invocation_span("req-2");
}

#[tokio::test]
async fn a_hung_backend_costs_each_invocation_at_most_the_timeout() {
    let (function, _extension) = start(
        2,
        Emulation::default().with_telemetry_delay(NEVER),
        Behaviour::NeverAnswer,
        &[("LAMBDA_OTEL_EXTENSION_TIMEOUT_MS", "50")],
    );
    function.run(handler);
    wait_for_extension_polls(&function.timeline, 3).await;
    function.wait_for_next_polls(3).await;
    // The backend read both invocations' spans (and never answered).
    function.invocation_span("req-1");
    function.invocation_span("req-2");
}

#[tokio::test]
async fn a_bad_setting_leaves_the_extension_idle_and_never_holds_an_invocation() {
    let (function, _extension) = start(
        2,
        Emulation::default().with_telemetry_delay(NEVER),
        Behaviour::Ok,
        &[("LAMBDA_OTEL_EXTENSION_ENDPOINT", "ftp://collector:4318")],
    );
    function.run(handler);
    wait_for_extension_polls(&function.timeline, 3).await;
    function.wait_for_next_polls(3).await;
    assert!(
        function.spans().is_empty(),
        "nothing was forwarded:\n{}",
        function.timeline.describe()
    );
}

const XRAY_1: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

#[tokio::test]
async fn the_cold_starts_init_phase_is_a_sibling_of_the_first_invocation_span_and_reports_become_metrics()
 {
    let port = free_port();
    // As the template configures it: the invocation span joins Lambda's X-Ray trace.
    let configure = move |b: TelemetryBuilder| {
        b.with_otlp_endpoint(format!("http://127.0.0.1:{port}"))
            .with_propagators([Propagator::TraceContext, Propagator::XrayLambda])
    };
    let mut invocations = invocations(2);
    invocations[0] = invocations[0].clone().with_xray(XRAY_1);
    let function = Function::start_emulated(
        Timeline::new(),
        invocations,
        Emulation::default()
            .with_external_extension(EXT)
            .with_shutdown_after_last(ShutdownReason::Spindown),
        Behaviour::Ok,
        configure,
    );
    let command = extension(port, &function.receiver.endpoint(), &[]);
    let _extension = ExtensionProcess::spawn(EXT, command, &function.api, &function.timeline);
    function.run(handler);
    wait(&function.timeline, "the extension's exit", |e| {
        e.is_extension_exit(EXT)
    })
    .await;
    let spans = function.spans();
    let init: Vec<_> = spans.iter().filter(|(_, s)| s.name == "init").collect();
    assert_eq!(
        init.len(),
        1,
        "one init span:\n{}",
        function.timeline.describe()
    );
    let (_, init) = init[0];
    let (_, first) = function.invocation_span("req-1");
    assert_eq!(init.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(
        (init.trace_id.as_str(), init.parent_span_id.as_str()),
        (first.trace_id.as_str(), first.parent_span_id.as_str()),
        "the init span is a sibling of the first invocation's span"
    );
    assert!(
        init.end_ns <= first.start_ns,
        "init ends before the first invocation starts"
    );
    assert_eq!(init.attr_str("aws.lambda.init.type"), Some("on-demand"));
    assert!(
        init.attr_int("lambda_otel.init.duration_ns")
            .is_some_and(|ns| ns >= 0)
    );
    // Aggregated: whatever the number of points, they count both invocations.
    let metrics = function.receiver.metrics();
    for name in ["aws.lambda.billed_duration", "faas.mem_usage"] {
        let counted: u64 = metrics
            .iter()
            .filter(|m| m.name == name && m.scope_name == "lambda-otel-extension")
            .flat_map(|m| match &m.data {
                MetricData::Histogram { points, .. } => points.iter().map(|p| p.count).collect(),
                _ => Vec::new(),
            })
            .sum();
        assert_eq!(
            counted, 2,
            "{name} counts each invocation once: {metrics:#?}"
        );
    }
    assert!(
        !function
            .spans()
            .iter()
            .any(|(_, s)| s.attr_str("error.type").is_some()),
        "successful invocations get no failed-invocation span"
    );
}

/// A span of invocation `id` that ended in `error_type`: exactly one, status Error.
fn failed_span(spans: &[(usize, common::otlp::ReceivedSpan)], id: &str, error_type: &str) {
    let found: Vec<_> = spans
        .iter()
        .filter(|(_, s)| s.attr_str("faas.invocation_id") == Some(id))
        .collect();
    assert_eq!(found.len(), 1, "one span for {id}: {spans:#?}");
    let span = &found[0].1;
    assert_eq!(span.attr_str("error.type"), Some(error_type));
    assert_eq!(span.status_code, 2, "status Error");
    assert_eq!(span.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(span.parent_span_id, "53995c3f42cd8ad8");
}

#[tokio::test]
async fn an_invocation_that_times_out_still_leaves_one_error_span_in_its_trace() {
    let port = free_port();
    let configure = move |b: TelemetryBuilder| {
        b.with_otlp_endpoint(format!("http://127.0.0.1:{port}"))
            .with_propagators([Propagator::TraceContext, Propagator::XrayLambda])
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let invocation = Invocation::new("req-1", "{}")
        .with_xray(XRAY_1)
        .with_deadline_ms(now_ms + 1500);
    let function = Function::start_emulated(
        Timeline::new(),
        vec![invocation],
        Emulation::default()
            .with_external_extension(EXT)
            .with_timeouts(),
        Behaviour::Ok,
        configure,
    );
    let command = extension(port, &function.receiver.endpoint(), &[]);
    let _extension = ExtensionProcess::spawn(EXT, command, &function.api, &function.timeline);
    // A handler that never answers: Lambda times it out at the deadline.
    function.run(|_| std::future::pending());
    wait(&function.timeline, "the extension's exit", |e| {
        e.is_extension_exit(EXT)
    })
    .await;
    assert!(
        function
            .timeline
            .events()
            .iter()
            .any(|e| e.is_shutdown_sent_with(EXT, "timeout")),
        "{}",
        function.timeline.describe()
    );
    // Whoever made it (lambda-otel's own deadline guard, or the extension from the platform's
    // runtimeDone when the function could not), there is one span, in the invocation's trace.
    failed_span(&function.spans(), "req-1", "timeout");
    let metrics: Vec<String> = function
        .receiver
        .metrics()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert!(metrics.iter().any(|m| m == "faas.timeouts"), "{metrics:?}");
}

/// The child's side of [`a_crashed_runtime_leaves_an_error_span_made_by_the_extension`]: a
/// lambda-otel function whose handler aborts the process, exporting to the extension on
/// `$TEST_EXTENSION_PORT`.
#[tokio::test]
#[ignore = "runs as the child process of a_crashed_runtime_leaves_an_error_span_made_by_the_extension"]
async fn child_function_that_aborts() {
    let port = std::env::var("TEST_EXTENSION_PORT").expect("set by the parent test");
    let telemetry = lambda_otel::Telemetry::builder()
        .with_traces_exporter(lambda_otel::Exporter::Otlp)
        .with_otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .with_propagators([Propagator::TraceContext, Propagator::XrayLambda])
        .try_init()
        .expect("valid settings");
    let otel = telemetry.layer();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        std::process::abort();
        #[allow(unreachable_code)]
        Ok::<Value, Error>(Value::Null)
    });
    let _ = Runtime::new(otel.wrap(handler)).layer(otel).run().await;
}

#[tokio::test]
async fn a_crashed_runtime_leaves_an_error_span_made_by_the_extension() {
    let timeline = Timeline::new();
    let backend = OtlpReceiver::start(timeline.clone(), Behaviour::Ok);
    let api = RuntimeApi::start_with(
        timeline.clone(),
        vec![Invocation::new("req-1", "{}").with_xray(XRAY_1)],
        Emulation::default().with_external_extension(EXT),
    );
    let port = free_port();
    let _extension = ExtensionProcess::spawn(
        EXT,
        extension(port, &backend.endpoint(), &[]),
        &api,
        &timeline,
    );
    let mut child = common::child::ignored_test("child_function_that_aborts");
    child.env("TEST_EXTENSION_PORT", port.to_string());
    let _runtime = common::child::RuntimeProcess::spawn(child, &api);
    wait(&timeline, "the extension's exit", |e| {
        e.is_extension_exit(EXT)
    })
    .await;
    let events = timeline.events();
    assert!(
        events.iter().any(TimelineEvent::is_runtime_exit)
            && events
                .iter()
                .any(|e| e.is_shutdown_sent_with(EXT, "failure")),
        "{}",
        timeline.describe()
    );
    let spans: Vec<_> = events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.exported_spans().iter().cloned().map(move |s| (i, s)))
        .collect();
    failed_span(&spans, "req-1", "failure");
    let made = spans
        .iter()
        .find(|(_, s)| s.attr_str("faas.invocation_id") == Some("req-1"))
        .map(|(_, s)| s.name.as_str());
    assert_eq!(
        made,
        Some("test-fn"),
        "named like lambda-otel's invocation span"
    );
}
