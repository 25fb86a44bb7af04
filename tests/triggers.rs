//! Trigger-aware spans, end to end: every sample in `events/triggers/` through the real
//! lambda_runtime loop and OTLP exporter, asserting the trigger, kind, name, key attributes,
//! parent and links the collector receives.

mod common;

use common::function::{Function, event};
use common::otlp::{Behaviour, ReceivedSpan};
use common::runtime_api::Invocation;
use lambda_otel::layer::SpanStart;
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanRef, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use serde_json::{Value, json};

/// The header Lambda itself hands every invocation (`Lambda-Runtime-Trace-Id`).
const LAMBDA_XRAY: &str =
    "Root=1-11111111-222222222222222222222222;Parent=3333333333333333;Sampled=1";
const LAMBDA_PARENT: (&str, &str) = ("11111111222222222222222222222222", "3333333333333333");

const SERVER: i32 = 2;
const CONSUMER: i32 = 5;

/// Echoes HTTP events with a 200 and records the baggage the handler sees.
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let cx = Context::current();
    if let Some(tenant) = cx.baggage().get("tenant") {
        cx.span()
            .set_attribute(KeyValue::new("test.baggage.tenant", tenant.to_string()));
    }
    // What an HTTP client injecting through the global propagator would send downstream.
    let mut outgoing = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject(&mut outgoing));
    if let Some(traceparent) = outgoing.get("traceparent") {
        cx.span().set_attribute(KeyValue::new(
            "test.outgoing.traceparent",
            traceparent.clone(),
        ));
    }
    let http = event.payload.get("requestContext").is_some();
    Ok(if http {
        json!({"statusCode": 200, "body": "{}"})
    } else {
        json!({"ok": true})
    })
}

struct Case {
    file: &'static str,
    trigger: &'static str,
    kind: i32,
    name: &'static str,
    /// Attributes that must be there, exactly.
    attributes: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        file: "apigw-rest-v1.json",
        trigger: "http",
        kind: SERVER,
        name: "GET /users/{id}",
        attributes: &[
            ("http.route", "/users/{id}"),
            ("url.path", "/users/42"),
            ("url.query", "verbose=true&access_token=REDACTED"),
            ("client.address", "203.0.113.7"),
        ],
    },
    Case {
        file: "apigw-http-v2.json",
        trigger: "http",
        kind: SERVER,
        name: "GET /users/{id}",
        attributes: &[
            ("url.query", "verbose=true&sig=REDACTED"),
            ("url.scheme", "https"),
        ],
    },
    Case {
        file: "function-url.json",
        trigger: "http",
        kind: SERVER,
        name: "POST",
        attributes: &[("url.path", "/orders"), ("http.request.method", "POST")],
    },
    Case {
        file: "alb.json",
        trigger: "http",
        kind: SERVER,
        name: "GET",
        attributes: &[("url.scheme", "http"), ("client.address", "192.0.2.44")],
    },
    Case {
        file: "sqs.json",
        trigger: "pubsub",
        kind: CONSUMER,
        name: "orders-queue process",
        attributes: &[
            ("messaging.system", "aws_sqs"),
            ("messaging.operation.type", "process"),
            ("messaging.destination.name", "orders-queue"),
        ],
    },
    Case {
        file: "sns.json",
        trigger: "pubsub",
        kind: CONSUMER,
        name: "order-events process",
        attributes: &[("messaging.system", "aws.sns")],
    },
    Case {
        file: "kinesis.json",
        trigger: "pubsub",
        kind: CONSUMER,
        name: "clickstream process",
        attributes: &[("aws.kinesis.stream_name", "clickstream")],
    },
    Case {
        file: "dynamodb.json",
        trigger: "datasource",
        kind: CONSUMER,
        name: "orders process",
        attributes: &[("faas.document.collection", "orders")],
    },
    Case {
        file: "s3-put.json",
        trigger: "datasource",
        kind: SERVER,
        name: "test-fn",
        attributes: &[
            ("aws.s3.bucket", "photo-uploads"),
            ("faas.document.name", "photos/2026/cat picture(1).jpg"),
            ("faas.document.operation", "insert"),
        ],
    },
    Case {
        file: "eventbridge.json",
        trigger: "pubsub",
        kind: CONSUMER,
        name: "test-fn",
        attributes: &[("lambda_otel.eventbridge.detail_type", "OrderPlaced")],
    },
    Case {
        file: "schedule.json",
        trigger: "timer",
        kind: SERVER,
        name: "test-fn",
        attributes: &[("faas.time", "2026-11-21T02:00:00Z")],
    },
    Case {
        file: "cloudwatch-logs.json",
        trigger: "pubsub",
        kind: CONSUMER,
        name: "test-fn",
        attributes: &[],
    },
    Case {
        file: "direct.json",
        trigger: "other",
        kind: SERVER,
        name: "test-fn",
        attributes: &[],
    },
];

fn invocations() -> Vec<Invocation> {
    CASES
        .iter()
        .map(|case| {
            Invocation::new(case.file, event(&format!("triggers/{}", case.file)))
                .with_xray(LAMBDA_XRAY)
        })
        .collect()
}

fn parent(span: &ReceivedSpan) -> Option<(&str, &str)> {
    (!span.parent_span_id.is_empty()).then_some((&span.trace_id, &span.parent_span_id))
}

fn links(span: &ReceivedSpan) -> Vec<(&str, &str)> {
    span.links
        .iter()
        .map(|(t, s)| (t.as_str(), s.as_str()))
        .collect()
}

async fn run_every_sample(propagators: Option<&str>) -> Function {
    if let Some(propagators) = propagators {
        // SAFETY: one test per process (nextest), before anything reads the environment.
        unsafe { std::env::set_var("OTEL_PROPAGATORS", propagators) };
    }
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(CASES.len() + 1).await;
    function
}

#[tokio::test(flavor = "current_thread")]
async fn every_sample_gets_its_trigger_kind_name_and_attributes() {
    let function = run_every_sample(None).await;
    for case in CASES {
        let (_, span) = function.invocation_span(case.file);
        let file = case.file;
        assert_eq!(span.attr_str("faas.trigger"), Some(case.trigger), "{file}");
        assert_eq!(span.kind, case.kind, "{file}");
        assert_eq!(span.name, case.name, "{file}");
        for (key, value) in case.attributes {
            assert_eq!(span.attr_str(key), Some(*value), "{file}: {key}");
        }
        for value in span.attributes.values() {
            let text = format!("{value:?}");
            for secret in ["SECRET", "s3cr3t", "Bearer"] {
                assert!(!text.contains(secret), "{file}: {text}");
            }
        }
    }
    let (_, sqs) = function.invocation_span("sqs.json");
    assert_eq!(sqs.attr_int("messaging.batch.message_count"), Some(3));
    let (_, alb) = function.invocation_span("alb.json");
    assert_eq!(alb.attr_int("server.port"), Some(80));
    let (_, http) = function.invocation_span("apigw-http-v2.json");
    assert_eq!(http.attr_int("http.response.status_code"), Some(200));
}

#[tokio::test(flavor = "current_thread")]
async fn by_default_w3c_headers_are_the_parent_and_lambdas_xray_header_is_not() {
    let function = run_every_sample(None).await;
    let (_, rest) = function.invocation_span("apigw-rest-v1.json");
    assert_eq!(
        parent(&rest),
        Some(("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"))
    );
    assert_eq!(
        rest.attr_str("test.baggage.tenant"),
        Some("acme"),
        "the event's baggage reaches the handler"
    );
    assert!(links(&rest).is_empty());
    let (_, v2) = function.invocation_span("apigw-http-v2.json");
    assert_eq!(
        parent(&v2),
        Some(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"))
    );
    assert_eq!(
        rest.attr_str("test.outgoing.traceparent"),
        Some(format!("00-{}-{}-01", rest.trace_id, rest.span_id).as_str()),
        "outgoing calls carry the invocation span as their parent"
    );
    for case in ["direct.json", "s3-put.json", "schedule.json", "alb.json"] {
        let (_, span) = function.invocation_span(case);
        assert_eq!(
            parent(&span),
            None,
            "{case}: Lambda's X-Ray header needs xray-lambda"
        );
        assert_ne!(span.trace_id, LAMBDA_PARENT.0, "{case}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_is_linked_to_its_producers_not_parented() {
    let function = run_every_sample(None).await;
    let (_, sqs) = function.invocation_span("sqs.json");
    assert_eq!(parent(&sqs), None);
    assert_eq!(
        links(&sqs),
        vec![
            ("6b017019f7f3b2c9780175e3ff9918f2", "191616116c765599"),
            ("8523f8a6e768d3705797a86cb1047db8", "c2b7a8912de18ead"),
        ],
        "AWSTraceHeader of record 1, traceparent of record 2, nothing for record 3"
    );
    let (_, sns) = function.invocation_span("sns.json");
    assert_eq!(
        links(&sns),
        vec![("38672eaa0c626a9a57ea4638b805787e", "abf6c9177a91c19b")]
    );
    let (_, kinesis) = function.invocation_span("kinesis.json");
    assert!(links(&kinesis).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn xray_lambda_listed_last_wins_and_the_w3c_context_becomes_a_link() {
    let function = run_every_sample(Some("tracecontext,baggage,xray-lambda")).await;
    let (_, rest) = function.invocation_span("apigw-rest-v1.json");
    assert_eq!(
        parent(&rest),
        Some(("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8")),
        "the event's own X-Amzn-Trace-Id comes first"
    );
    assert_eq!(
        links(&rest),
        vec![("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")]
    );
    let (_, v2) = function.invocation_span("apigw-http-v2.json");
    assert_eq!(
        parent(&v2),
        Some(LAMBDA_PARENT),
        "the event's header has no Parent: Lambda's header is used"
    );
    assert_eq!(
        links(&v2),
        vec![("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")]
    );
    let (_, sqs) = function.invocation_span("sqs.json");
    assert_eq!(parent(&sqs), Some(LAMBDA_PARENT));
    assert_eq!(links(&sqs).len(), 2);
    let (_, direct) = function.invocation_span("direct.json");
    assert_eq!(parent(&direct), Some(LAMBDA_PARENT));
}

#[tokio::test(flavor = "current_thread")]
async fn hooks_add_attributes_rename_and_see_the_response() {
    let invocations = vec![
        Invocation::new("rest", event("triggers/apigw-rest-v1.json")),
        Invocation::new("direct", event("triggers/direct.json")),
    ];
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    let otel = function
        .telemetry
        .layer()
        .with_on_invocation(|span: &mut SpanStart<'_>| {
            #[derive(serde::Deserialize)]
            struct Order<'a> {
                #[serde(rename = "orderId")]
                order_id: Option<&'a str>,
            }
            let order = serde_json::from_slice::<Order<'_>>(span.event())
                .ok()
                .and_then(|o| o.order_id.map(str::to_owned));
            if let Some(id) = order {
                span.set_name(format!("refund {id}"));
                span.set_attribute(KeyValue::new("app.order_id", id));
            }
            span.remove_attribute(&"client.address".into());
            let source = span.source().as_str();
            span.set_attribute(KeyValue::new("app.source", source));
        });
    let wrapped =
        otel.wrap(service_fn(handler))
            .with_on_response(|response: &Value, span: &SpanRef<'_>| {
                let ok = response.get("ok").is_some();
                span.set_attribute(KeyValue::new("app.ok", ok));
            });
    tokio::spawn(Runtime::new(wrapped).layer(otel).run());
    function.wait_for_next_polls(3).await;

    let (_, direct) = function.invocation_span("direct");
    assert_eq!(direct.name, "refund 1234");
    assert_eq!(direct.attr_str("app.order_id"), Some("1234"));
    assert_eq!(direct.attr_str("app.source"), Some("direct"));
    assert_eq!(direct.attr_bool("app.ok"), Some(true));
    let (_, rest) = function.invocation_span("rest");
    assert_eq!(rest.name, "GET /users/{id}");
    assert_eq!(rest.attr_str("app.source"), Some("api-gateway-rest"));
    assert_eq!(rest.attr_str("client.address"), None, "removed by the hook");
    assert_eq!(rest.attr_bool("app.ok"), Some(false));
}

#[tokio::test(flavor = "current_thread")]
async fn built_in_extraction_can_be_switched_off() {
    // SAFETY: one test per process (nextest), before anything reads the environment.
    unsafe { std::env::set_var("LAMBDA_OTEL_EVENT_EXTRACTION", "off") };
    let invocations = vec![Invocation::new(
        "rest",
        event("triggers/apigw-rest-v1.json"),
    )];
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(2).await;
    let (_, rest) = function.invocation_span("rest");
    assert_eq!(rest.name, "test-fn");
    assert_eq!(rest.attr_str("faas.trigger"), Some("other"));
    assert_eq!(rest.attr_str("http.route"), None);
    assert_eq!(
        parent(&rest),
        None,
        "the event's headers are not read either"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_still_get_a_span_and_never_fail_the_invocation() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge = format!(
        r#"{{"httpMethod":"GET","path":"/{}"}}"#,
        "x".repeat(1 << 20)
    );
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("not-json", b"not json at all".to_vec()),
        (
            "truncated",
            br#"{"Records":[{"eventSource":"aws:sqs","#.to_vec(),
        ),
        (
            "wrong-types",
            br#"{"Records":[{"eventSource":5}],"headers":[1]}"#.to_vec(),
        ),
        ("deep", deep.into_bytes()),
        ("huge", huge.into_bytes()),
        ("empty", Vec::new()),
    ];
    let ids: Vec<&str> = bodies.iter().map(|(id, _)| *id).collect();
    let invocations = bodies
        .into_iter()
        .map(|(id, body)| Invocation::new(id, body))
        .collect();
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    function.run(handler);
    function.wait_for_next_polls(ids.len() + 1).await;
    for id in ids {
        let (_, span) = function.invocation_span(id);
        let trigger = span.attr_str("faas.trigger");
        if id == "huge" {
            // A valid REST-like event: read, with its path cut to the bound.
            assert_eq!(trigger, Some("http"));
            let path = span.attr_str("url.path").unwrap_or_default();
            assert_eq!(path.len(), lambda_otel::trigger::MAX_VALUE_LEN);
        } else {
            assert_eq!(trigger, Some("other"), "{id}");
        }
    }
}
