//! `OTEL_METRICS_EXPORTER=emf`, end to end: the function runs in a child process (this test
//! binary, running the ignored `function` test) against the loopback Runtime API, behind a
//! proxy that marks every `/next` poll on stdout, and the parent reads the child's real
//! stdout. Every EMF line must pass the specification's check, each invocation's lines must
//! come before the runtime asks for the next event, and the values must be what the handler
//! did and what the OTLP exporter reports for the same invocations.
//!
//! The handler does what the dice roller does (the example crate depends on this one, so it
//! is no dependency of these tests): roll the dice the query asks for, count each die in
//! `dice.rolls` by `roll.value`, log the outcome, answer with the rolls. The dice are
//! seeded by the request id, so a second run rolls the same.

// EMF is a metrics exporter: the `metrics` feature.
#![cfg(feature = "metrics")]

mod common;

use common::child::run_ignored;
use common::emf::{NEXT_MARKER, PollMarker, spec};
use common::function::{Function, event};
use common::otlp::{Behaviour, MetricData, ReceivedMetric, Temporality, Value as Attribute};
use common::runtime_api::Invocation;
use common::timeline::TimelineEvent;
use lambda_runtime::{Error, LambdaEvent};
use opentelemetry::KeyValue;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Set in the child: the `OTEL_METRICS_EXPORTER` to run with (`emf` or `otlp`).
const CHILD_EXPORTER: &str = "LAMBDA_OTEL_TEST_METRICS_EXPORTER";
/// The child's line with the bodies of the responses, in order.
const RESPONSES_MARKER: &str = "emf-test-responses";
/// The OTLP child's line with what the receiver got, as [`Totals`].
const OTLP_MARKER: &str = "emf-test-otlp-totals";

/// Per metric and attribute set (`name{k=v,...}`): a sum's total, a histogram's count.
type Totals = BTreeMap<String, f64>;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let query = &event.payload["queryStringParameters"];
    let count: usize = query["rolls"].as_str().map_or(Ok(1), str::parse)?;
    let player = query["player"].as_str().unwrap_or("Anonymous player");
    let rolls = dice(&event.context.request_id, count);
    let counter = opentelemetry::global::meter("dice-roller")
        .u64_counter("dice.rolls")
        .with_unit("{roll}")
        .with_description("The number of rolls by roll value")
        .build();
    for value in &rolls {
        counter.add(1, &[KeyValue::new("roll.value", *value)]);
    }
    tracing::info!(player, rolls = ?rolls, "{player} rolled {rolls:?}");
    let body = json!({ "player": player, "rolls": rolls });
    Ok(json!({ "statusCode": 200, "body": body.to_string() }))
}

/// Six-sided dice from the request id (FNV-1a, then xorshift).
fn dice(request_id: &str, count: usize) -> Vec<i64> {
    let mut state = request_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + i64::try_from(state % 6).expect("below 6")
        })
        .collect()
}

/// Four requests of the dice roller: one die for Alice, three for Bob, one anonymous, twelve
/// for Bob (so some value comes up more than once in one invocation).
fn invocations() -> Vec<Invocation> {
    let mut twelve: Value =
        serde_json::from_slice(&event("apigw-v2-multi-roll.json")).expect("a JSON event");
    twelve["queryStringParameters"]["rolls"] = json!("12");
    vec![
        Invocation::new("req-emf-1", event("apigw-v2-roll.json")),
        Invocation::new("req-emf-2", event("apigw-v2-multi-roll.json")),
        Invocation::new("req-emf-3", event("apigw-v2-anonymous.json")),
        Invocation::new("req-emf-4", twelve.to_string()),
    ]
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "the function of the EMF tests, run by them in a child process"]
async fn function() {
    let exporter = std::env::var(CHILD_EXPORTER).expect("run by the EMF tests");
    // SAFETY: one test per process, before telemetry or the runtime reads the environment.
    unsafe {
        std::env::set_var("OTEL_METRICS_EXPORTER", &exporter);
        std::env::set_var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta");
        std::env::set_var("OTEL_SERVICE_NAME", "dice-roller");
        // Lambda's log-level filtering at WARN: EMF lines must say so, or Lambda drops them.
        std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON");
        std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "WARN");
    }
    let invocations = invocations();
    let n = invocations.len();
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    let marker = PollMarker::start(function.api.addr());
    // SAFETY: as above; `Runtime::new` reads it in `run`.
    unsafe { std::env::set_var("AWS_LAMBDA_RUNTIME_API", marker.addr().to_string()) };
    function.run(handler);
    function.wait_for_next_polls(n + 1).await;

    let responses: Vec<Value> = function
        .timeline
        .events()
        .iter()
        .filter_map(|e| match e {
            TimelineEvent::ResponsePosted { body, .. } => serde_json::from_slice(body).ok(),
            _ => None,
        })
        .collect();
    println!("{RESPONSES_MARKER} {}", Value::from(responses));
    if exporter == "otlp" {
        let totals = otlp_totals(&function.receiver.metrics());
        println!("{OTLP_MARKER} {}", json!(totals));
    }
}

/// What the child printed: its stdout lines and the rolls of each invocation.
struct Run {
    lines: Vec<String>,
    rolls: Vec<Vec<i64>>,
}

impl Run {
    fn new(exporter: &str) -> Self {
        let stdout = run_ignored("function", &[(CHILD_EXPORTER, exporter)]);
        // libtest announces the test on the line its output starts on.
        let lines: Vec<String> = stdout
            .lines()
            .map(|l| l.trim_start_matches("test function ... ").to_owned())
            .collect();
        let responses: Vec<Value> =
            serde_json::from_str(marked(&lines, RESPONSES_MARKER)).expect("the responses as JSON");
        let rolls = responses
            .iter()
            .map(|response| {
                let body: Value = serde_json::from_str(response["body"].as_str().expect("a body"))
                    .expect("a JSON body");
                serde_json::from_value(body["rolls"].clone()).expect("the rolls")
            })
            .collect();
        Self { lines, rolls }
    }

    /// The EMF lines between `/next` poll k and poll k+1, checked against the specification,
    /// for k from 0 (before the first poll) to the last poll.
    fn emf_by_poll(&self) -> Vec<Vec<Value>> {
        let mut segments = vec![Vec::new()];
        for line in &self.lines {
            if let Some(n) = line.strip_prefix(NEXT_MARKER) {
                let n: usize = n.trim().parse().expect("a poll number");
                assert_eq!(n, segments.len(), "polls marked in order");
                segments.push(Vec::new());
            } else if line.starts_with(r#"{"_aws""#) {
                let document = spec::check(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                segments.last_mut().expect("a segment").push(document);
            }
        }
        segments
    }
}

/// The rest of the line that starts with `marker`.
fn marked<'a>(lines: &'a [String], marker: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(marker))
        .unwrap_or_else(|| panic!("no {marker} in:\n{}", lines.join("\n")))
}

/// `name{k=v,...}`, attributes sorted.
fn key(name: &str, mut attributes: Vec<String>) -> String {
    attributes.sort();
    format!("{name}{{{}}}", attributes.join(","))
}

/// What EMF lines say, in [`Totals`]: numbers added up, arrays counted (a histogram's
/// SampleCount). The `service` dimension comes from the resource, not from attributes.
fn emf_totals(documents: &[Value]) -> Totals {
    let mut totals = Totals::new();
    for document in documents {
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        let dimensions: Vec<String> = directive["Dimensions"][0]
            .as_array()
            .expect("a dimension set")
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| *name != "service")
            .map(|name| format!("{name}={}", document[name].as_str().expect("a string")))
            .collect();
        for definition in directive["Metrics"].as_array().expect("definitions") {
            let name = definition["Name"].as_str().expect("a name");
            let value = match &document[name] {
                Value::Array(values) => values.len() as f64,
                number => number.as_f64().expect("a number"),
            };
            *totals.entry(key(name, dimensions.clone())).or_default() += value;
        }
    }
    totals
}

/// What the OTLP receiver got, in [`Totals`]; every sum and histogram must be delta.
fn otlp_totals(metrics: &[ReceivedMetric]) -> Totals {
    let attributes = |attributes: &std::collections::HashMap<String, Attribute>| {
        attributes
            .iter()
            .map(|(k, v)| match v {
                Attribute::Str(s) => format!("{k}={s}"),
                Attribute::Int(i) => format!("{k}={i}"),
                Attribute::Bool(b) => format!("{k}={b}"),
                other => panic!("{k}: {other:?} is no dimension"),
            })
            .collect::<Vec<_>>()
    };
    let mut totals = Totals::new();
    for metric in metrics {
        assert_eq!(metric.temporality(), Some(Temporality::Delta), "{metric:?}");
        match &metric.data {
            MetricData::Sum { points, .. } => {
                for point in points {
                    let key = key(&metric.name, attributes(&point.attributes));
                    *totals.entry(key).or_default() += point.value.as_f64();
                }
            }
            MetricData::Histogram { points, .. } => {
                for point in points {
                    let key = key(&metric.name, attributes(&point.attributes));
                    *totals.entry(key).or_default() += point.count as f64;
                }
            }
            other => panic!("{}: {other:?}", metric.name),
        }
    }
    totals
}

#[test]
fn emf_lines_pass_the_specification_before_the_next_poll() {
    let run = Run::new("emf");
    let segments = run.emf_by_poll();
    let n = run.rolls.len();
    assert_eq!(segments.len(), n + 2, "polls 1 to {}", n + 1);
    assert!(segments[0].is_empty(), "nothing before the first event");
    assert!(segments[n + 1].is_empty(), "nothing after the last flush");

    for (k, (documents, rolls)) in segments[1..=n].iter().zip(&run.rolls).enumerate() {
        let totals = emf_totals(documents);
        let invocation = k + 1;
        assert_eq!(
            totals.get("faas.invocations{faas.trigger=http}"),
            Some(&1.0),
            "invocation {invocation}, written before poll {}: {totals:#?}",
            invocation + 1
        );
        assert_eq!(
            totals.get("faas.invoke_duration{faas.trigger=http}"),
            Some(&1.0),
            "one duration for invocation {invocation}"
        );
        let cold = totals.get("faas.coldstarts{faas.trigger=http}").copied();
        assert_eq!(cold, (invocation == 1).then_some(1.0), "cold start");
        let mut rolled = Totals::new();
        for value in rolls {
            *rolled
                .entry(key("dice.rolls", vec![format!("roll.value={value}")]))
                .or_default() += 1.0;
        }
        let counted: Totals = totals
            .into_iter()
            .filter(|(k, _)| k.starts_with("dice.rolls"))
            .collect();
        assert_eq!(counted, rolled, "invocation {invocation}: {rolls:?}");
    }

    for document in segments.iter().flatten() {
        assert_eq!(
            document["level"], "WARN",
            "kept at the application log level"
        );
        assert_eq!(document["service"], "dice-roller");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "dice-roller"
        );
        assert!(document.get("faas.instance").is_none(), "{document}");
    }
}

#[test]
fn emf_values_equal_what_otlp_reports_for_the_same_invocations() {
    let emf = Run::new("emf");
    let otlp = Run::new("otlp");
    assert_eq!(emf.rolls, otlp.rolls, "the same dice in both runs");
    let from_emf = emf_totals(&emf.emf_by_poll().concat());
    let from_otlp: Totals =
        serde_json::from_str(marked(&otlp.lines, OTLP_MARKER)).expect("the OTLP totals");
    assert!(
        from_otlp.contains_key("faas.invocations{faas.trigger=http}")
            && from_otlp.keys().any(|k| k.starts_with("dice.rolls")),
        "{from_otlp:#?}"
    );
    assert_eq!(from_emf, from_otlp);
    assert!(
        !otlp.lines.iter().any(|l| l.starts_with(r#"{"_aws""#)),
        "no EMF line when metrics go to OTLP"
    );
}
