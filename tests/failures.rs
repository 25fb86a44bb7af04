//! Telemetry never breaks the function: handler errors and panics are recorded and still reach
//! Lambda; a collector that refuses, hangs or fails costs at most the flush bound.

mod common;

use common::child::run_ignored;
use common::function::{Function, event};
use common::otlp::{Behaviour, OtlpReceiver};
use common::runtime_api::Invocation;
use common::timeline::TimelineEvent;
use lambda_otel::{FlushMode, Protocol, Telemetry};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug)]
struct DiceError;

impl std::fmt::Display for DiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the die fell off the table")
    }
}

impl std::error::Error for DiceError {}

async fn failing(event: LambdaEvent<Value>) -> Result<Value, Error> {
    match event.payload.get("mode").and_then(Value::as_str) {
        Some("error") => Err(Box::new(DiceError)),
        Some("panic") => panic!("the handler exploded"),
        Some("5xx") => Ok(json!({"statusCode": 503})),
        _ => Ok(json!({"ok": true})),
    }
}

fn invocations() -> Vec<Invocation> {
    vec![
        Invocation::new("err", br#"{"mode":"error"}"#.to_vec()),
        Invocation::new("panic", br#"{"mode":"panic"}"#.to_vec()),
        Invocation::new("5xx", br#"{"mode":"5xx"}"#.to_vec()),
        Invocation::new("ok", br#"{"mode":"ok"}"#.to_vec()),
    ]
}

fn error_body(function: &Function, id: &str) -> Value {
    let events = function.timeline.events();
    let body = events.iter().find_map(|e| match e {
        TimelineEvent::ErrorPosted { request_id, body } if request_id == id => Some(body.clone()),
        _ => None,
    });
    serde_json::from_slice(&body.unwrap_or_else(|| panic!("no error posted for {id}")))
        .expect("JSON error body")
}

/// A handler that panics in the call itself, before it has a future to return.
fn panics_in_its_call(_: LambdaEvent<Value>) -> std::future::Ready<Result<Value, Error>> {
    panic!("the handler exploded before its future")
}

#[tokio::test(flavor = "current_thread")]
async fn before_response_a_handler_that_panics_in_its_call_is_flushed_before_the_next_event() {
    let invocations = vec![Invocation::new("sync-panic", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        b.with_flush_mode(FlushMode::BeforeResponse)
    });
    function.run(panics_in_its_call);
    function.wait_for_next_polls(2).await;
    let exported = function.position(
        |e| {
            e.exported_spans()
                .iter()
                .any(|s| s.attr_str("faas.invocation_id") == Some("sync-panic"))
        },
        "the invocation span at the collector",
    );
    let next = function.position(|e| e.is_next_poll(2), "the next poll");
    assert!(exported < next, "{}", function.timeline.describe());
    let (_, span) = function.invocation_span("sync-panic");
    assert_eq!(span.status_code, 2, "error status");
    assert_eq!(span.attr_str("error.type"), Some("panic"));
}

#[tokio::test(flavor = "current_thread")]
async fn errors_and_panics_mark_the_span_and_still_reach_lambda() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(failing);
    function.wait_for_next_polls(5).await;

    let (_, err) = function.invocation_span("err");
    assert_eq!(err.status_code, 2, "error status");
    assert_eq!(err.status_message, "the die fell off the table");
    let error_type = err.attr_str("error.type").expect("error.type");
    let (name, attrs) = err
        .events
        .iter()
        .find(|(n, _)| n == "exception")
        .expect("exception event");
    assert_eq!(name, "exception");
    assert_eq!(
        attrs.get("exception.message").and_then(|v| v.as_str()),
        Some("the die fell off the table")
    );
    assert_eq!(
        error_body(&function, "err")["errorType"],
        error_type,
        "the span names what Lambda got"
    );
    assert_eq!(
        error_body(&function, "err")["errorMessage"],
        "the die fell off the table"
    );

    let (_, panicked) = function.invocation_span("panic");
    assert_eq!(panicked.status_code, 2);
    assert_eq!(panicked.attr_str("error.type"), Some("panic"));
    assert_eq!(panicked.status_message, "the handler exploded");
    assert!(panicked.events.iter().any(|(n, _)| n == "exception"));
    let lambda = error_body(&function, "panic");
    assert!(
        lambda["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("the handler exploded")),
        "{lambda}"
    );

    let (_, server_error) = function.invocation_span("5xx");
    assert_eq!(
        server_error.attr_int("http.response.status_code"),
        Some(503)
    );
    assert_eq!(server_error.status_code, 2, "5xx is a server error");
    assert!(server_error.events.iter().all(|(n, _)| n != "exception"));

    let (_, ok) = function.invocation_span("ok");
    assert_eq!(ok.status_code, 0);
    assert_eq!(ok.attr_str("error.type"), None);
}

/// The function keeps answering whatever the collector does; each case checks every
/// invocation got its response and the runtime moved on to the next event.
async fn function_survives(behaviour: Behaviour, endpoint: Option<String>) -> Function {
    let invocations = vec![
        Invocation::new("one", event("apigw-v2-roll.json")),
        Invocation::new("two", event("apigw-v2-roll.json")),
    ];
    let function = Function::start(invocations, behaviour, |b| match endpoint {
        Some(endpoint) => b
            .with_traces_endpoint(endpoint)
            .with_flush_timeout(Duration::from_millis(100)),
        None => b.with_flush_timeout(Duration::from_millis(100)),
    });
    function.run(failing);
    function.wait_for_next_polls(3).await;
    for id in ["one", "two"] {
        let events = function.timeline.events();
        assert!(
            events.iter().any(|e| matches!(e, TimelineEvent::ResponsePosted { request_id, .. } if request_id == id)),
            "{id} got no response:\n{}",
            function.timeline.describe()
        );
    }
    function
}

#[tokio::test(flavor = "current_thread")]
async fn a_collector_that_refuses_connections_costs_nothing_but_the_spans() {
    let refused_base = OtlpReceiver::refused_endpoint();
    let refused = format!("{refused_base}/v1/traces");
    function_survives(Behaviour::Ok, Some(refused)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_collector_that_never_answers_is_cut_off_at_the_bound() {
    let function = function_survives(Behaviour::NeverAnswer, None).await;
    assert!(
        function.receiver.requests() >= 1,
        "the export was attempted"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_collector_that_answers_errors_is_survived() {
    let function = function_survives(Behaviour::Status(503), None).await;
    assert_eq!(
        function.receiver.requests(),
        2,
        "one export per invocation, no retries"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_invocation_past_its_deadline_does_not_wait_for_the_export() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let past_ms = u64::try_from(now_ms).expect("fits") - 1_000;
    let past = Invocation::new("late", event("apigw-v2-roll.json")).with_deadline_ms(past_ms);
    let function = Function::start(vec![past], Behaviour::NeverAnswer, |b| {
        b.with_flush_timeout(Duration::from_secs(60))
    });
    function.run(failing);
    // With a 60 s flush timeout and a collector that never answers, only the invocation's
    // deadline (long past) lets the runtime reach its next poll before the harness gives up.
    function.wait_for_next_polls(2).await;
}

/// Which collector the child of the warning tests meets: `refused`, `401`, `silent`,
/// `partial` or `grpc-refused`.
const CHILD_CASE: &str = "LAMBDA_OTEL_TEST_FAILURE_CASE";
/// What the child prints before its traces endpoint.
const ENDPOINT_MARKER: &str = "traces-endpoint:";

/// The function of the warning tests, run by them in a child process so that its stdout
/// (where the warning goes) can be read. Credentials ride along where a careless message
/// would show them: in the endpoint's query, in a header.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by the warning tests below"]
async fn failing_collector_function() {
    let case = std::env::var(CHILD_CASE).expect("a case");
    let behaviour = match case.as_str() {
        "refused" | "grpc-refused" => Behaviour::Ok,
        "401" => Behaviour::Status(401),
        "silent" => Behaviour::NeverAnswer,
        "partial" => Behaviour::PartialSuccess(1, "span 2 has no name"),
        other => panic!("no case {other}"),
    };
    let refused_base = OtlpReceiver::refused_endpoint();
    let refused = format!("{refused_base}/v1/traces");
    let invocations = vec![Invocation::new("one", event("apigw-v2-roll.json"))];
    let function = Function::start(invocations, behaviour, |b| {
        let b = b
            .with_flush_timeout(Duration::from_secs(10))
            .with_header("authorization", "Bearer header-secret");
        match case.as_str() {
            "refused" => b.with_traces_endpoint(format!("{refused}?token=query-secret")),
            "grpc-refused" => b
                .with_protocol(Protocol::Grpc)
                .with_traces_endpoint(refused_base.clone()),
            _ => b,
        }
    });
    let traces = match case.as_str() {
        "refused" => refused,
        "grpc-refused" => refused_base,
        _ => format!("{}/v1/traces", function.receiver.endpoint()),
    };
    println!("{ENDPOINT_MARKER} {traces}");
    function.run(failing);
    function.wait_for_next_polls(2).await;
}

/// The traces endpoint of the child's case, and everything it wrote on stdout.
fn child(case: &str, env: &[(&str, &str)]) -> (String, String) {
    let mut env = env.to_vec();
    env.push((CHILD_CASE, case));
    let stdout = run_ignored("failing_collector_function", &env);
    let endpoint = stdout
        .lines()
        .find_map(|l| l.split(ENDPOINT_MARKER).nth(1))
        .unwrap_or_else(|| panic!("no endpoint in:\n{stdout}"))
        .trim()
        .to_owned();
    (endpoint, stdout)
}

/// The traces endpoint of the child's case, and the warning it wrote (one: a minute has not
/// passed), after checking it shows no credential.
fn warning(case: &str, env: &[(&str, &str)]) -> (String, String) {
    let (endpoint, stdout) = child(case, env);
    let warnings: Vec<_> = stdout
        .lines()
        .filter(|l| l.contains("telemetry export failed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    let warning = warnings[0].to_owned();
    assert!(warning.contains("signal=traces"), "{warning}");
    // Where the export was going, whatever the failure says (a deadline that passes knows
    // nothing of the endpoint).
    assert!(
        warning.contains(&format!("destination={endpoint} ")),
        "{warning}"
    );
    assert!(!warning.contains("secret"), "{warning}");
    (endpoint, warning)
}

#[test]
fn a_refused_connection_is_named_in_the_warning_with_its_endpoint() {
    let (endpoint, warning) = warning("refused", &[]);
    assert!(
        warning.contains(&format!("connection refused by {endpoint}\"")),
        "{warning}"
    );
}

#[test]
fn an_error_status_is_named_in_the_warning_with_its_endpoint() {
    let (endpoint, warning) = warning("401", &[]);
    assert!(
        warning.contains(&format!("HTTP status 401 from {endpoint}\"")),
        "{warning}"
    );
}

/// A collector that takes the export but rejects part of it (OTLP's partial success): the
/// export succeeded, so no failure is reported, but what the collector said is a warning on
/// stdout, with where it came from (opentelemetry-otlp's exporter wrote one too).
#[test]
fn a_partial_success_is_a_warning_with_the_collectors_count_and_message() {
    let (endpoint, stdout) = child("partial", &[]);
    let warnings: Vec<_> = stdout
        .lines()
        .filter(|l| l.contains("rejected some of its spans"))
        .collect();
    assert_eq!(warnings.len(), 1, "the invocation's span export: {stdout}");
    let warning = warnings[0];
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("rejected=1"), "{warning}");
    assert!(warning.contains("span 2 has no name"), "{warning}");
    assert!(
        warning.contains(&format!("destination={endpoint}")),
        "{warning}"
    );
    assert!(!stdout.contains("telemetry export failed"), "{stdout}");
}

#[test]
fn a_collector_silent_past_the_export_timeout_is_named_in_the_warning() {
    // The export timeout well under the flush bound (10 s), so that it is the one that passes.
    let (endpoint, warning) = warning("silent", &[("OTEL_EXPORTER_OTLP_TIMEOUT", "200")]);
    assert!(
        warning.contains(&format!("no answer within 200ms from {endpoint}\"")),
        "{warning}"
    );
}

#[cfg(feature = "grpc")]
#[test]
fn a_failed_grpc_export_names_its_endpoint_in_the_warning() {
    let (endpoint, warning) = warning("grpc-refused", &[]);
    assert!(
        warning.contains(&format!("exporting to {endpoint}: ")),
        "{warning}"
    );
}

#[test]
fn credentials_in_an_endpoint_are_refused_at_start_up_without_being_shown() {
    let error = Telemetry::builder()
        .with_traces_endpoint("http://user:secret@127.0.0.1:4318/v1/traces")
        .with_tracing_subscriber(false)
        .build()
        .expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:4318"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}
