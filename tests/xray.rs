//! `OTEL_TRACES_EXPORTER=xray` end to end: the real lambda_runtime loop, the real exporter, and
//! a loopback X-Ray daemon that checks every datagram as the daemon and X-Ray would.

// The X-Ray exporter needs the `xray` feature.
#![cfg(feature = "xray")]

mod common;

use common::child::run_ignored;
use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use common::timeline::{Timeline, TimelineEvent};
use common::xray::{Document, XrayDaemon};
use lambda_otel::{Exporter, Propagator, TelemetryBuilder};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A W3C parent with a random trace id, which X-Ray refuses.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Lambda's X-Ray header for invocation `n`, as Active tracing sends it: a Root whose epoch is
/// now, the function segment as Parent.
fn lambda_header(n: u8, sampled: bool) -> (String, String, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let root = format!("1-{now:08x}-3b2f8a91c4d7e6f05a1b2c{n:02x}");
    let parent = format!("53995c3f42cd8a{n:02x}");
    let header = format!("Root={root};Parent={parent};Sampled={}", u8::from(sampled));
    (header, root, parent)
}

/// The dice roller's request with `player`; Mallory gets a 503, a wrong path a 404.
fn roll_event(player: &str, path: &str, traceparent: Option<&str>) -> Vec<u8> {
    let mut request: Value =
        serde_json::from_slice(&event("apigw-v2-roll.json")).expect("sample event");
    request["rawQueryString"] = json!(format!("player={player}"));
    request["queryStringParameters"]["player"] = json!(player);
    request["rawPath"] = json!(path);
    request["requestContext"]["http"]["path"] = json!(path);
    if let Some(traceparent) = traceparent {
        request["headers"]["traceparent"] = json!(traceparent);
    }
    serde_json::to_vec(&request).expect("JSON")
}

/// `n` rolls by Alice (`req-1`, ...), each with Lambda's X-Ray header, sampled.
fn sampled_rolls(n: u8) -> Vec<Invocation> {
    (1..=n)
        .map(|n| {
            Invocation::new(format!("req-{n}"), roll_event("Alice", "/rolldice", None))
                .with_xray(lambda_header(n, true).0)
        })
        .collect()
}

/// The dice roller's shape: a `roll` span per request, the HTTP status from the request.
async fn dice(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = &event.payload;
    match payload.get("mode").and_then(Value::as_str) {
        Some("error") => return Err("the die fell off the table".into()),
        Some("panic") => panic!("the handler exploded"),
        Some("many") => {
            for i in 0..2000 {
                tracing::info_span!("step", i).in_scope(|| ());
            }
            return Ok(json!({"ok": true}));
        }
        _ => {}
    }
    if payload["rawPath"] != "/rolldice" {
        return Ok(json!({"statusCode": 404, "body": "not found"}));
    }
    let player = payload["queryStringParameters"]["player"]
        .as_str()
        .unwrap_or("");
    tracing::info_span!("roll", dice.player = player, dice.value = 4).in_scope(|| {
        tracing::info!(player, "rolled 4");
    });
    let status = if player == "Mallory" { 503 } else { 200 };
    Ok(json!({"statusCode": status, "body": "4"}))
}

/// Starts the daemon, then the function exporting spans to it (metrics and logs off).
fn start(
    invocations: Vec<Invocation>,
    configure: impl FnOnce(TelemetryBuilder) -> TelemetryBuilder,
) -> (Function, XrayDaemon) {
    let timeline = Timeline::new();
    let daemon = XrayDaemon::start(timeline.clone());
    let address = daemon.addr();
    let function = Function::start_in(timeline, invocations, Behaviour::Ok, |b| {
        configure(
            b.with_traces_exporter(Exporter::Xray)
                .with_xray_daemon_address(address)
                .with_metrics_exporter(Exporter::None)
                .with_logs_exporter(Exporter::None)
                .with_propagators([
                    Propagator::TraceContext,
                    Propagator::Baggage,
                    Propagator::XrayLambda,
                ]),
        )
    });
    (function, daemon)
}

fn invocation_document<'a>(documents: &'a [Document], request_id: &str) -> &'a Document {
    let found: Vec<_> = documents
        .iter()
        .filter(|d| d.annotation("faas_invocation_id") == Some(&json!(request_id)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one document for {request_id}: {documents:#?}"
    );
    found[0]
}

#[tokio::test(flavor = "current_thread")]
async fn each_request_is_one_trace_under_lambdas_function_segment() {
    let headers: Vec<_> = (1..=3).map(|n| lambda_header(n, true)).collect();
    let invocations = vec![
        Invocation::new("req-1", roll_event("Alice", "/rolldice", None)).with_xray(&headers[0].0),
        Invocation::new("req-2", roll_event("Bob", "/rolldice", None)).with_xray(&headers[1].0),
        // A caller's W3C context with a random trace id: X-Ray would drop it, so Lambda's
        // trace is the parent and the caller's context a link.
        Invocation::new("req-3", roll_event("Carol", "/rolldice", Some(TRACEPARENT)))
            .with_xray(&headers[2].0),
    ];
    let (function, daemon) = start(invocations, |b| b);
    function.run(dice);
    function.wait_for_next_polls(4).await;
    daemon.assert_no_violations();

    for (n, (_, root, parent)) in headers.iter().enumerate() {
        let request_id = format!("req-{}", n + 1);
        // Freeze safety: both documents were at the daemon before the next event was asked for.
        let documents =
            daemon.assert_arrived_before_next_poll(n + 2, &request_id, |d| d.trace_id() == root);
        assert_eq!(documents.len(), 2, "{}", daemon.describe());
        let invocation = invocation_document(&documents, &request_id);
        assert!(invocation.is_subsegment(), "{:#}", invocation.json);
        assert_eq!(invocation.parent_id(), Some(parent.as_str()));
        assert_eq!(invocation.name(), "GET /rolldice");
        assert_eq!(invocation.http_method(), Some("GET"));
        let player = ["Alice", "Bob", "Carol"][n];
        let url = format!(
            "https://r3pmxmplak.execute-api.us-east-1.amazonaws.com/rolldice?player={player}"
        );
        assert_eq!(invocation.http_url(), Some(url.as_str()));
        assert_eq!(invocation.http_status(), Some(200));
        assert!(!invocation.is_error() && !invocation.is_fault());
        assert_eq!(invocation.annotation("faas_trigger"), Some(&json!("http")));
        assert_eq!(
            invocation.annotation("faas_coldstart"),
            Some(&json!(n == 0)),
            "a cold start on the first invocation only"
        );
        let metadata = invocation.metadata().expect("metadata")["default"].clone();
        assert_eq!(metadata["http.route"], "/rolldice");
        assert!(
            metadata["lambda_otel.invocation.duration_ns"]
                .as_i64()
                .is_some_and(|ns| ns > 0)
        );

        let roll = documents
            .iter()
            .find(|d| d.name() == "roll")
            .expect("the roll span");
        assert!(roll.is_subsegment());
        assert_eq!(roll.parent_id(), Some(invocation.id()));
        assert_eq!(
            roll.metadata().expect("metadata")["default"]["dice.player"],
            player
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn client_errors_server_errors_handler_errors_and_panics() {
    let headers: Vec<_> = (1..=4).map(|n| lambda_header(n, true)).collect();
    let invocations = vec![
        Invocation::new("404", roll_event("Alice", "/nowhere", None)).with_xray(&headers[0].0),
        Invocation::new("503", roll_event("Mallory", "/rolldice", None)).with_xray(&headers[1].0),
        Invocation::new("err", br#"{"mode":"error"}"#.to_vec()).with_xray(&headers[2].0),
        Invocation::new("panic", br#"{"mode":"panic"}"#.to_vec()).with_xray(&headers[3].0),
    ];
    let (function, daemon) = start(invocations, |b| b);
    function.run(dice);
    function.wait_for_next_polls(5).await;
    // Every datagram was sent before /next #5, but the daemon's thread may not have read the
    // last ones yet: wait for all five documents (four invocations, Mallory's roll).
    let documents = daemon.wait_for_documents(5);
    daemon.assert_no_violations();

    let not_found = invocation_document(&documents, "404");
    assert_eq!(not_found.http_status(), Some(404));
    assert!(
        not_found.is_error() && !not_found.is_fault(),
        "{:#}",
        not_found.json
    );

    let unavailable = invocation_document(&documents, "503");
    assert_eq!(unavailable.http_status(), Some(503));
    assert!(unavailable.is_fault(), "{:#}", unavailable.json);

    for (id, message) in [
        ("err", "the die fell off the table"),
        ("panic", "the handler exploded"),
    ] {
        let failed = invocation_document(&documents, id);
        assert!(failed.is_fault(), "{:#}", failed.json);
        let cause = failed.cause().expect("a cause").to_string();
        assert!(cause.contains(message), "{id}: {cause}");
    }
    // Lambda got every outcome: telemetry changed nothing.
    let events = function.timeline.events();
    for id in ["err", "panic"] {
        assert!(events.iter().any(|e| matches!(e,
            TimelineEvent::ErrorPosted { request_id, .. } if request_id == id)));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_invocation_of_2000_spans_reaches_the_daemon_whole_before_the_next_event() {
    let (header, root, _) = lambda_header(1, true);
    let invocations =
        vec![Invocation::new("many", br#"{"mode":"many"}"#.to_vec()).with_xray(&header)];
    // A debug build translates 2,001 spans slowly: the bound is not what is tested here.
    let (function, daemon) = start(invocations, |b| {
        b.with_flush_timeout(Duration::from_secs(30))
    });
    function.run(dice);
    function.wait_for_next_polls(2).await;
    daemon.assert_no_violations();
    let documents =
        daemon.assert_arrived_before_next_poll(2, "the 2,001 documents", |d| d.trace_id() == root);
    assert_eq!(
        documents.len(),
        2001,
        "{} datagrams",
        daemon.datagram_count()
    );
    let invocation = invocation_document(&documents, "many");
    let children = documents
        .iter()
        .filter(|d| d.name() == "step" && d.parent_id() == Some(invocation.id()))
        .count();
    assert_eq!(children, 2000);
}

#[tokio::test(flavor = "current_thread")]
async fn what_x_ray_did_not_sample_is_not_sent() {
    let (unsampled, unsampled_root, _) = lambda_header(1, false);
    let (sampled, sampled_root, _) = lambda_header(2, true);
    let invocations = vec![
        Invocation::new("unsampled", roll_event("Alice", "/rolldice", None)).with_xray(&unsampled),
        Invocation::new("sampled", roll_event("Bob", "/rolldice", None)).with_xray(&sampled),
    ];
    let (function, daemon) = start(invocations, |b| b);
    function.run(dice);
    function.wait_for_next_polls(3).await;
    daemon.assert_no_violations();
    let sent = daemon.assert_arrived_before_next_poll(3, "the sampled request", |d| {
        d.trace_id() == sampled_root
    });
    assert_eq!(sent.len(), 2);
    assert!(
        daemon
            .documents()
            .iter()
            .all(|d| d.trace_id() != unsampled_root),
        "{}",
        daemon.describe()
    );
}

/// The function of the no-daemon test, run by it in a child process so its stdout (where the
/// warnings go) can be read.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by with_no_daemon_listening_every_invocation_succeeds_and_one_warning_says_why"]
async fn no_daemon_function() {
    let invocations = sampled_rolls(5);
    let nowhere = XrayDaemon::unbound_address().parse().expect("address");
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        b.with_traces_exporter(Exporter::Xray)
            .with_xray_daemon_address(nowhere)
            .with_metrics_exporter(Exporter::None)
            .with_logs_exporter(Exporter::None)
            .with_propagators([Propagator::XrayLambda])
    });
    function.run(dice);
    function.wait_for_next_polls(6).await;
    let responses = function
        .timeline
        .events()
        .iter()
        .filter(|e| matches!(e, TimelineEvent::ResponsePosted { .. }))
        .count();
    println!("responses-posted {responses}");
}

#[test]
fn with_no_daemon_listening_every_invocation_succeeds_and_one_warning_says_why() {
    let stdout = run_ignored("no_daemon_function", &[]);
    assert!(stdout.contains("responses-posted 5"), "{stdout}");
    let warnings: Vec<_> = stdout
        .lines()
        .filter(|l| l.contains("telemetry export failed"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for five failed invocations:\n{stdout}"
    );
    assert!(
        warnings[0].contains("no X-Ray daemon is listening"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("AWS_XRAY_DAEMON_ADDRESS"),
        "{}",
        warnings[0]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_caller_trace_id_x_ray_refuses_becomes_a_link_and_lambdas_trace_the_parent() {
    let (header, root, parent) = lambda_header(1, true);
    let invocations = vec![
        Invocation::new("w3c", roll_event("Alice", "/rolldice", Some(TRACEPARENT)))
            .with_xray(&header),
    ];
    // tracecontext listed last: without the rule, the caller's W3C trace would be the parent,
    // and X-Ray would refuse every document of it.
    let (function, daemon) = start(invocations, |b| {
        b.with_propagators([Propagator::XrayLambda, Propagator::TraceContext])
    });
    function.run(dice);
    function.wait_for_next_polls(2).await;
    daemon.assert_no_violations();
    let documents =
        daemon.assert_arrived_before_next_poll(2, "the request", |d| d.trace_id() == root);
    assert_eq!(documents.len(), 2, "{}", daemon.describe());
    let invocation = invocation_document(&documents, "w3c");
    assert_eq!(invocation.parent_id(), Some(parent.as_str()));
    // The caller's context is not lost on the way: the link is in the document.
    assert_eq!(
        invocation.metadata().expect("metadata")["default"]["links"],
        json!([TRACEPARENT]),
        "{:#}",
        invocation.json
    );
}

/// Seconds since the epoch.
fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The function of the new-traces test, run by it in a child process so its stdout (where the
/// export warnings go) can be read. No invocation has Lambda's X-Ray header (tracing not
/// Active, or outside Lambda): each starts a trace of its own.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by with_no_x_ray_header_each_invocation_starts_a_trace_x_ray_takes"]
async fn new_traces_function() {
    let invocations = vec![
        Invocation::new("alone", roll_event("Alice", "/rolldice", None)),
        Invocation::new("w3c", roll_event("Bob", "/rolldice", Some(TRACEPARENT))),
    ];
    let (function, daemon) = start(invocations, |b| b);
    let started = epoch_seconds();
    function.run(dice);
    function.wait_for_next_polls(3).await;
    let ended = epoch_seconds();
    // The checker's TraceIdEpoch rule: the trace ids start with a recent epoch second.
    daemon.assert_no_violations();
    let mut traces = Vec::new();
    for (n, request_id) in ["alone", "w3c"].into_iter().enumerate() {
        let documents = daemon.documents_before_next_poll(n + 2);
        let invocation = invocation_document(&documents, request_id);
        let trace = invocation.trace_id().to_owned();
        assert!(
            !invocation.is_subsegment() && invocation.parent_id().is_none(),
            "a root segment: {:#}",
            invocation.json
        );
        // X-Ray's id generator: the epoch second the trace began, not 32 random bits.
        let epoch = u64::from_str_radix(&trace[2..10], 16).expect("hex");
        assert!((started..=ended).contains(&epoch), "{trace}");
        let sent =
            daemon.assert_arrived_before_next_poll(n + 2, request_id, |d| d.trace_id() == trace);
        assert_eq!(
            sent.len(),
            2,
            "the invocation and its roll: {}",
            daemon.describe()
        );
        traces.push(trace);
    }
    assert_ne!(traces[0], traces[1]);
    let w3c = invocation_document(&daemon.documents(), "w3c").clone();
    assert_eq!(
        w3c.metadata().expect("metadata")["default"]["links"],
        json!([TRACEPARENT]),
        "the caller's context, a link of the new trace: {:#}",
        w3c.json
    );
    println!("new-traces-checked");
}

#[test]
fn with_no_x_ray_header_each_invocation_starts_a_trace_x_ray_takes() {
    let stdout = run_ignored("new_traces_function", &[]);
    assert!(stdout.contains("new-traces-checked"), "{stdout}");
    assert!(
        !stdout.contains("telemetry export failed"),
        "nothing lost:\n{stdout}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn with_the_always_off_sampler_nothing_is_sent() {
    let invocations = sampled_rolls(2);
    let (function, daemon) = start(invocations, |b| {
        b.with_env_lookup(|name| match name {
            "OTEL_TRACES_SAMPLER" => Some("always_off".to_owned()),
            _ => std::env::var(name).ok(),
        })
    });
    function.run(dice);
    function.wait_for_next_polls(3).await;
    // Whatever the two invocations sent was queued before the marker of /next #3.
    assert!(
        daemon.documents_before_next_poll(3).is_empty(),
        "{}",
        daemon.describe()
    );
    assert_eq!(daemon.datagram_count(), 0, "{}", daemon.describe());
    let responses = function
        .timeline
        .events()
        .iter()
        .filter(|e| matches!(e, TimelineEvent::ResponsePosted { .. }))
        .count();
    assert_eq!(responses, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn nothing_is_sent_for_an_invocation_already_past_its_deadline() {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let past_ms = u64::try_from(now_ms).expect("fits") - 1_000;
    let (late, late_root, _) = lambda_header(1, true);
    let (on_time, on_time_root, _) = lambda_header(2, true);
    let invocations = vec![
        Invocation::new("late", roll_event("Alice", "/rolldice", None))
            .with_xray(&late)
            .with_deadline_ms(past_ms),
        Invocation::new("on-time", roll_event("Bob", "/rolldice", None)).with_xray(&on_time),
    ];
    let (function, daemon) = start(invocations, |b| b);
    function.run(dice);
    function.wait_for_next_polls(3).await;
    daemon.assert_no_violations();
    // Lambda has already ended it: its spans are counted as lost, never sent late.
    assert!(
        daemon.documents().iter().all(|d| d.trace_id() != late_root),
        "{}",
        daemon.describe()
    );
    let sent = daemon.assert_arrived_before_next_poll(3, "the next invocation", |d| {
        d.trace_id() == on_time_root
    });
    assert_eq!(sent.len(), 2);
}
