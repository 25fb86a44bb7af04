//! End to end against real backends, built from their own Go modules by
//! `scripts/setup-backends.sh`: Jaeger v2 (all-in-one, in-memory) and an OpenTelemetry
//! Collector with the `awsxray` receiver. A dice-roller function runs on the real
//! lambda_runtime loop against the loopback Runtime API, and each test reads what a user would
//! see: Jaeger's query API, the collector's file exporter.
//!
//! `#[ignore]`d, so that `cargo nextest run --workspace` passes on a machine without the
//! backends. The test command runs `scripts/setup-backends.sh`, then
//! `cargo nextest run -p lambda-otel --test backends --run-ignored only`; run that way without
//! the backends, every test fails saying to run the script.

// Run with the default features only (`--run-ignored only` in scripts/test.sh).
#![cfg(all(feature = "metrics", feature = "logs", feature = "xray"))]

mod common;

use common::backends::collector::Collector;
use common::backends::jaeger::{Jaeger, Trace};
use common::backends::otlp_json::{self, Span};
use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::{FUNCTION_ARN, FUNCTION_NAME, Invocation, MEMORY_SIZE_MB};
use lambda_otel::{Exporter, Propagator, TelemetryBuilder};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// `service.name`, the service a user picks in Jaeger.
const SERVICE: &str = "dice-roller";
/// Each request: its id and player. Mallory gets a 503, Eve's roll fails in the handler.
const REQUESTS: [(&str, &str); 4] = [
    ("req-1", "Alice"),
    ("req-2", "Bob"),
    ("req-3", "Mallory"),
    ("req-4", "Eve"),
];
const HANDLER_ERROR: &str = "the die fell off the table";

/// `GET /rolldice?player=<player>`: the dice roller's sample event with another player.
fn roll_event(player: &str) -> Vec<u8> {
    let mut request: Value =
        serde_json::from_slice(&event("apigw-v2-roll.json")).expect("sample event");
    request["rawQueryString"] = json!(format!("player={player}"));
    request["queryStringParameters"]["player"] = json!(player);
    serde_json::to_vec(&request).expect("JSON")
}

/// The dice roller's shape: a `roll` span and a log line per roll, the status from the player.
async fn dice(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let player = event.payload["queryStringParameters"]["player"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if player == "Eve" {
        return Err(HANDLER_ERROR.into());
    }
    tracing::info_span!("roll", dice.player = player.as_str(), dice.value = 4).in_scope(|| {
        tracing::info!(player = player.as_str(), "{player} rolled 4");
    });
    let status = if player == "Mallory" { 503 } else { 200 };
    Ok(json!({"statusCode": status, "body": "4"}))
}

/// Runs the function over `invocations` with `configure`'s settings, and returns once the
/// runtime asked for the event after the last one: every invocation is over and flushed, and
/// the runtime is held in `/next`, so the test may block its thread to poll a backend.
async fn run(
    invocations: Vec<Invocation>,
    configure: impl FnOnce(TelemetryBuilder) -> TelemetryBuilder,
) -> Function {
    let count = invocations.len();
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        configure(b.with_service_name(SERVICE))
    });
    function.run(dice);
    function.wait_for_next_polls(count + 1).await;
    function
}

fn requests() -> Vec<Invocation> {
    REQUESTS
        .iter()
        .map(|(id, player)| Invocation::new(*id, roll_event(player)))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the backends: scripts/setup-backends.sh, then --run-ignored only"]
async fn jaeger_shows_each_invocation_as_one_trace() {
    let jaeger = Jaeger::start();
    let endpoint = jaeger.otlp_http_endpoint();
    // Jaeger takes traces only, as the README says.
    let _function = run(requests(), |b| {
        b.with_otlp_endpoint(endpoint)
            .with_metrics_exporter(Exporter::None)
            .with_logs_exporter(Exporter::None)
    })
    .await;
    let traces = jaeger.wait_for_traces(SERVICE, all_in);
    assert_dice_traces(&traces);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the backends: scripts/setup-backends.sh, then --run-ignored only"]
async fn through_a_collector_jaeger_shows_the_same_and_metrics_and_logs_reach_its_file() {
    let jaeger = Jaeger::start();
    let collector = Collector::start_to_jaeger(&jaeger);
    let endpoint = collector.otlp_http_endpoint();
    let _function = run(requests(), |b| b.with_otlp_endpoint(endpoint)).await;

    let traces = jaeger.wait_for_traces(SERVICE, all_in);
    assert_dice_traces(&traces);

    // Metrics: cumulative totals, so the last export of each holds the four invocations.
    collector.wait_for_output("faas.invocations at 4", |lines| {
        (metric_total(lines, "faas.invocations") == Some(4)).then_some(())
    });
    let lines = collector.output();
    assert_eq!(
        metric_total(&lines, "faas.errors"),
        Some(1),
        "Eve's handler error"
    );
    assert_eq!(metric_total(&lines, "faas.coldstarts"), Some(1));
    let (resource, _) = &otlp_json::metrics(&lines)[0];
    assert_eq!(resource["service.name"], SERVICE);

    // Logs: each roll's line carries the ids of its `roll` span, as Jaeger shows it.
    let rolled = collector.wait_for_output("three rolls logged", |lines| {
        let records: Vec<_> = otlp_json::log_records(lines)
            .into_iter()
            .filter(|r| r.body.as_str().is_some_and(|b| b.contains("rolled 4")))
            .collect();
        (records.len() == 3).then_some(records)
    });
    for record in rolled {
        let trace = traces
            .iter()
            .find(|t| t.trace_id == record.trace_id)
            .unwrap_or_else(|| panic!("no trace in Jaeger for {record:#?}"));
        assert_eq!(trace.span("roll").span_id, record.span_id, "{record:#?}");
        assert_eq!(record.resource["service.name"], SERVICE);
    }
    assert_eq!(collector.problems(), Vec::<String>::new());
}

/// Whether every invocation's trace is in, whole.
fn all_in(traces: &[Trace]) -> bool {
    REQUESTS.iter().all(|(id, player)| {
        let spans = if *player == "Eve" { 1 } else { 2 };
        trace_of(traces, id).is_some_and(|t| t.spans.len() == spans)
    })
}

/// The trace of the invocation `request_id`.
fn trace_of<'a>(traces: &'a [Trace], request_id: &str) -> Option<&'a Trace> {
    let id = json!(request_id);
    traces.iter().find(|t| {
        t.spans
            .iter()
            .any(|s| s.tags.get("faas.invocation_id") == Some(&id))
    })
}

/// Jaeger shows each invocation as one trace of the dice-roller service: `GET /rolldice` (the
/// invocation span) with its `roll` child, the FaaS and HTTP tags, the resource as process
/// tags, a cold start on the first only, errors marked.
fn assert_dice_traces(traces: &[Trace]) {
    assert_eq!(
        traces.len(),
        REQUESTS.len(),
        "one trace per invocation: {traces:#?}"
    );
    for (n, (id, player)) in REQUESTS.iter().enumerate() {
        let trace =
            trace_of(traces, id).unwrap_or_else(|| panic!("no trace for {id}: {traces:#?}"));
        let invocation = trace.span("GET /rolldice");
        assert_eq!(invocation.parent, None, "{id}: a root span");
        assert_eq!(invocation.service, SERVICE);
        let status = match *player {
            "Mallory" => Some(503),
            "Eve" => None,
            _ => Some(200),
        };
        let expected = [
            ("span.kind", json!("server")),
            ("faas.trigger", json!("http")),
            ("faas.coldstart", json!(n == 0)),
            ("http.request.method", json!("GET")),
            ("http.route", json!("/rolldice")),
            ("url.path", json!("/rolldice")),
            ("url.query", json!(format!("player={player}"))),
            ("cloud.resource_id", json!(FUNCTION_ARN)),
            ("cloud.account.id", json!("123456789012")),
            ("otel.scope.name", json!("lambda-otel")),
        ];
        for (key, value) in expected {
            assert_eq!(invocation.tag(key), &value, "{id}: {key}");
        }
        assert_eq!(
            invocation.tags.get("http.response.status_code"),
            status.map(|s| json!(s)).as_ref(),
            "{id}"
        );
        assert_eq!(
            invocation.tags.contains_key("lambda_otel.init.duration_ns"),
            n == 0,
            "{id}: the init duration on the cold start only"
        );
        let process = [
            ("cloud.provider", json!("aws")),
            ("cloud.platform", json!("aws_lambda")),
            ("cloud.region", json!("eu-west-1")),
            ("faas.name", json!(FUNCTION_NAME)),
            ("faas.max_memory", json!(u64::from(MEMORY_SIZE_MB) << 20)),
            ("telemetry.sdk.language", json!("rust")),
        ];
        for (key, value) in process {
            assert_eq!(
                invocation.process_tags.get(key),
                Some(&value),
                "{id}: {key}"
            );
        }
        let failed = status.is_none_or(|s| s >= 500);
        assert_eq!(
            invocation.tags.get("error"),
            failed.then_some(&json!(true)),
            "{id}"
        );
        if failed {
            assert_eq!(invocation.tag("otel.status_code"), &json!("ERROR"), "{id}");
        }
        if status.is_none() {
            assert_eq!(trace.spans.len(), 1, "{id}: no roll: {trace:#?}");
            assert!(
                invocation.tags.contains_key("error.type"),
                "{invocation:#?}"
            );
            assert!(
                invocation
                    .logs
                    .iter()
                    .any(|l| l.get("event") == Some(&json!("exception"))
                        && l.get("exception.message")
                            .and_then(Value::as_str)
                            .is_some_and(|m| m.contains(HANDLER_ERROR))),
                "{id}: the exception event: {invocation:#?}"
            );
        } else {
            assert_eq!(trace.spans.len(), 2, "{id}: {trace:#?}");
            let roll = trace.span("roll");
            assert_eq!(roll.parent.as_ref(), Some(&invocation.span_id), "{id}");
            assert_eq!(roll.tag("dice.player"), &json!(player));
            assert_eq!(roll.service, SERVICE);
        }
    }
}

/// The sum of the data points of the last export of the counter `name`.
fn metric_total(lines: &[Value], name: &str) -> Option<i64> {
    let metrics = otlp_json::metrics(lines);
    let (_, metric) = metrics.iter().rev().find(|(_, m)| m["name"] == name)?;
    let points = metric["sum"]["dataPoints"].as_array()?;
    points
        .iter()
        .map(|p| p["asInt"].as_str().and_then(|v| v.parse::<i64>().ok()))
        .sum()
}

/// Lambda's X-Ray header for invocation `n`, as Active tracing sends it: a Root whose epoch is
/// now (X-Ray refuses others), the function segment as Parent. Returns the header, the Root
/// as an OpenTelemetry trace id, and the Parent.
fn lambda_header(n: usize) -> (String, String, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let random = format!("3b2f8a91c4d7e6f05a1b2c{n:02x}");
    let parent = format!("53995c3f42cd8a{n:02x}");
    let header = format!("Root=1-{now:08x}-{random};Parent={parent};Sampled=1");
    (header, format!("{now:08x}{random}"), parent)
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the backends: scripts/setup-backends.sh, then --run-ignored only"]
async fn x_ray_documents_are_read_by_the_awsxray_receiver_as_the_right_spans() {
    let jaeger = Jaeger::start();
    let collector = Collector::start_xray(&jaeger);
    let daemon = collector.xray_address();
    let headers: Vec<_> = (1..=REQUESTS.len()).map(lambda_header).collect();
    let invocations = REQUESTS
        .iter()
        .zip(&headers)
        .map(|((id, player), (header, _, _))| {
            Invocation::new(*id, roll_event(player)).with_xray(header)
        })
        .collect();
    let _function = run(invocations, |b| {
        b.with_traces_exporter(Exporter::Xray)
            .with_xray_daemon_address(daemon)
            .with_metrics_exporter(Exporter::None)
            .with_logs_exporter(Exporter::None)
            .with_propagators([
                Propagator::TraceContext,
                Propagator::Baggage,
                Propagator::XrayLambda,
            ])
    })
    .await;

    // Two documents per request (the invocation, its roll), one for Eve's failed one.
    let spans = collector.wait_for_output("the seven spans", |lines| {
        let spans = otlp_json::spans(lines);
        (spans.len() >= 7).then_some(spans)
    });
    assert_eq!(spans.len(), 7, "{spans:#?}");
    assert_eq!(
        collector.problems(),
        Vec::<String>::new(),
        "the receiver refused nothing"
    );

    for (n, ((id, player), (_, trace_id, parent))) in REQUESTS.iter().zip(&headers).enumerate() {
        let invocation = xray_invocation(&spans, id);
        assert_eq!(
            &invocation.trace_id, trace_id,
            "{id}: Lambda's Root, converted"
        );
        assert_eq!(
            &invocation.parent_span_id, parent,
            "{id}: under Lambda's function segment"
        );
        assert_eq!(invocation.name, "GET /rolldice");
        let attributes = &invocation.attributes;
        assert_eq!(attributes["faas_trigger"], "http", "{id}: an annotation");
        assert_eq!(attributes["faas_coldstart"], n == 0, "{id}: an annotation");
        assert_eq!(attributes["http.method"], "GET", "{id}: the http block");
        let url = format!(
            "https://r3pmxmplak.execute-api.us-east-1.amazonaws.com/rolldice?player={player}"
        );
        assert_eq!(attributes["http.url"], url.as_str(), "{id}");
        let metadata: Value = serde_json::from_str(
            attributes["aws.xray.metadata.default"]
                .as_str()
                .expect("metadata"),
        )
        .expect("metadata is JSON");
        assert_eq!(metadata["http.route"], "/rolldice", "{id}: metadata");

        let trace = jaeger.wait_for_trace(trace_id, |t| {
            t.spans.len() == 1 + usize::from(*player != "Eve")
        });
        let in_jaeger = trace.span("GET /rolldice");
        assert_eq!(in_jaeger.span_id, invocation.span_id);
        assert_eq!(
            in_jaeger.parent.as_ref(),
            Some(parent),
            "{id}: Lambda's segment, absent here"
        );

        if *player == "Eve" {
            assert_eq!(
                invocation.status_code, 2,
                "{id}: the cause makes it an error"
            );
            let (_, exception) = invocation
                .events
                .iter()
                .find(|(name, _)| name == "exception")
                .unwrap_or_else(|| panic!("{id}: the cause as an exception: {invocation:#?}"));
            let message = exception["exception.message"].as_str().unwrap_or_default();
            assert!(message.contains(HANDLER_ERROR), "{id}: {exception:#?}");
            continue;
        }
        let status = if *player == "Mallory" { 503 } else { 200 };
        assert_eq!(attributes["http.status_code"], status, "{id}");
        assert_eq!(
            invocation.status_code,
            if status >= 500 { 2 } else { 0 },
            "{id}"
        );
        let roll = spans
            .iter()
            .find(|s| s.name == "roll" && s.trace_id == *trace_id)
            .unwrap_or_else(|| panic!("{id}: the roll span: {spans:#?}"));
        assert_eq!(
            roll.parent_span_id, invocation.span_id,
            "{id}: roll under the invocation"
        );
        let metadata: Value = serde_json::from_str(
            roll.attributes["aws.xray.metadata.default"]
                .as_str()
                .expect("metadata"),
        )
        .expect("metadata is JSON");
        assert_eq!(metadata["dice.player"], *player, "{id}");
        assert_eq!(trace.span("roll").parent.as_ref(), Some(&in_jaeger.span_id));
    }
}

/// The span the receiver made of `request_id`'s invocation document.
fn xray_invocation<'a>(spans: &'a [Span], request_id: &str) -> &'a Span {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.attributes.get("faas_invocation_id") == Some(&json!(request_id)))
        .collect();
    assert_eq!(found.len(), 1, "one span for {request_id}: {spans:#?}");
    found[0]
}
