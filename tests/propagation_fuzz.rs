//! The trace-context parsers never panic and never hand the invocation span an invalid parent:
//! property tests of W3C `traceparent`/`tracestate`, `baggage` and the X-Ray header (an HTTP
//! request's `X-Amzn-Trace-Id`, an SQS message's `AWSTraceHeader`, and Lambda's own header read
//! by `xray-lambda`), driven through the invocation span as the layer starts it
//! (`lambda_otel::__bench::Invocations`), with every propagator configured.
//!
//! Inputs: arbitrary text, text over the headers' alphabets, and valid headers with bytes
//! deleted, inserted, replaced or cut off. For each: the invocation gets exactly one span (none
//! only when a parent said not to sample), its parent and links are valid span contexts, and
//! the baggage the handler sees stays within OpenTelemetry's bounds. Valid headers round-trip:
//! the span joins the trace and parent they name, keeps the `tracestate`, and the handler sees
//! the baggage entries.
//!
//! Deterministic: a fixed seed, a fixed number of cases per property, no failure files.

use lambda_otel::__bench::Invocations;
use lambda_otel::{Exporter, Propagator, Telemetry};
use lambda_runtime::{Config, LambdaInvocation};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{RngAlgorithm, RngSeed, TestRunner};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// OpenTelemetry's bounds on baggage (`opentelemetry::baggage`): entries, and bytes of keys,
/// values and metadata together.
const MAX_BAGGAGE_ENTRIES: usize = 64;
const MAX_BAGGAGE_BYTES: usize = 8192;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x7ace_c0de),
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    })
}

fn invocations(propagators: &[Propagator]) -> Invocations {
    let telemetry = Telemetry::builder()
        .with_env_lookup(|_| None)
        .with_tracing_subscriber(false)
        .with_service_name("propagation-fuzz")
        .with_otlp_endpoint("http://127.0.0.1:9")
        .with_traces_exporter(Exporter::Otlp)
        .with_metrics_exporter(Exporter::None)
        .with_logs_exporter(Exporter::None)
        .with_propagators(propagators.iter().copied())
        .build()
        .expect("the settings are valid");
    Invocations::new(&telemetry).expect("telemetry is on")
}

/// Every propagator, in both orders: the later one's parent wins, the earlier becomes a link.
const ORDERS: [&[Propagator]; 2] = [
    &[
        Propagator::TraceContext,
        Propagator::Baggage,
        Propagator::Xray,
        Propagator::XrayLambda,
    ],
    &[
        Propagator::XrayLambda,
        Propagator::Xray,
        Propagator::Baggage,
        Propagator::TraceContext,
    ],
];

/// The trace-context fields of one invocation.
#[derive(Debug, Clone, Default)]
struct Headers {
    traceparent: Option<String>,
    tracestate: Option<String>,
    baggage: Option<String>,
    /// `X-Amzn-Trace-Id`, or the SQS message's `AWSTraceHeader`.
    xray: Option<String>,
    /// Lambda's header (`Lambda-Runtime-Trace-Id`).
    lambda: Option<String>,
    /// Delivered as one SQS message rather than an HTTP request.
    sqs: bool,
}

impl Headers {
    fn event(&self) -> Vec<u8> {
        let event = if self.sqs {
            let mut attributes = Map::new();
            for (name, value) in [
                ("traceparent", &self.traceparent),
                ("tracestate", &self.tracestate),
                ("baggage", &self.baggage),
            ] {
                if let Some(value) = value {
                    attributes.insert(
                        name.into(),
                        json!({"stringValue": value, "dataType": "String"}),
                    );
                }
            }
            json!({"Records": [{
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                "messageId": "m-1",
                "attributes": {"AWSTraceHeader": self.xray},
                "messageAttributes": attributes,
            }]})
        } else {
            let mut headers = Map::new();
            for (name, value) in [
                ("traceparent", &self.traceparent),
                ("tracestate", &self.tracestate),
                ("baggage", &self.baggage),
                ("x-amzn-trace-id", &self.xray),
            ] {
                if let Some(value) = value {
                    headers.insert(name.into(), Value::String(value.clone()));
                }
            }
            json!({
                "version": "2.0",
                "routeKey": "GET /orders",
                "rawPath": "/orders",
                "headers": headers,
                "requestContext": {"http": {"method": "GET"}},
            })
        };
        serde_json::to_vec(&event).expect("JSON")
    }

    fn request(&self) -> LambdaInvocation {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "3f1c9a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b".into();
        let deadline = (SystemTime::now() + Duration::from_secs(10))
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        context.deadline = u64::try_from(deadline.as_millis()).expect("a 64-bit timestamp");
        context.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f".into();
        context.xray_trace_id = self.lambda.clone();
        context.env_config = Arc::new(Config {
            function_name: "f".into(),
            memory: 128,
            version: "$LATEST".into(),
            log_stream: "stream".into(),
            log_group: "/aws/lambda/f".into(),
        });
        LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: bytes::Bytes::from(self.event()),
            context,
        }
    }
}

/// What one invocation produced: its span (if sampled) and the baggage its handler saw.
struct Run {
    span: Option<SpanData>,
    baggage: Vec<(String, String)>,
    baggage_bytes: usize,
}

fn run(invocations: &Invocations, headers: &Headers) -> Result<Run, TestCaseError> {
    let mut baggage = Vec::new();
    let mut baggage_bytes = 0;
    invocations.invoke(&headers.request(), || {
        let cx = opentelemetry::Context::current();
        for (key, (value, metadata)) in cx.baggage() {
            baggage_bytes += key.as_str().len() + value.as_str().len() + metadata.as_str().len();
            baggage.push((key.to_string(), value.to_string()));
        }
        None
    });
    let mut spans = invocations.take_spans();
    prop_assert!(spans.len() <= 1, "{} spans for one invocation", spans.len());
    Ok(Run {
        span: spans.pop(),
        baggage,
        baggage_bytes,
    })
}

fn check_valid(run: &Run) -> Result<(), TestCaseError> {
    prop_assert!(run.baggage.len() <= MAX_BAGGAGE_ENTRIES);
    prop_assert!(run.baggage_bytes <= MAX_BAGGAGE_BYTES);
    let Some(span) = &run.span else {
        return Ok(());
    };
    prop_assert!(span.span_context.is_valid());
    prop_assert!(span.links.links.len() <= 128);
    for link in &span.links.links {
        prop_assert!(link.span_context.is_valid(), "{:?}", link.span_context);
        prop_assert!(link.span_context.is_remote());
    }
    if span.parent_span_id != SpanId::INVALID {
        prop_assert!(
            span.parent_span_is_remote,
            "the only parent is a remote one"
        );
        prop_assert!(span.span_context.trace_id() != TraceId::INVALID);
    }
    Ok(())
}

/// Ids as W3C writes them.
#[derive(Debug, Clone, Copy)]
struct Ids {
    trace: u128,
    span: u64,
}

impl Ids {
    fn traceparent(self, sampled: bool) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace,
            self.span,
            u8::from(sampled)
        )
    }

    fn xray(self, sampled: &str, extra: &str) -> String {
        let hex = format!("{:032x}", self.trace);
        format!(
            "Root=1-{}-{};Parent={:016x}{sampled}{extra}",
            &hex[..8],
            &hex[8..],
            self.span
        )
    }

    fn matches(self, span: &SpanData) -> bool {
        span.span_context.trace_id() == TraceId::from(self.trace)
            && span.parent_span_id == SpanId::from(self.span)
    }

    fn is(self, sc: &SpanContext) -> bool {
        sc.trace_id() == TraceId::from(self.trace) && sc.span_id() == SpanId::from(self.span)
    }
}

fn ids() -> impl Strategy<Value = Ids> {
    (1..=u128::MAX, 1..=u64::MAX).prop_map(|(trace, span)| Ids { trace, span })
}

/// A valid `tracestate`: distinct keys, values of the allowed characters.
fn tracestate() -> impl Strategy<Value = String> {
    let member = (
        "[a-z][a-z0-9_*/-]{0,8}",
        "[!-+--<>-~]([ -+--<>-~]{0,10}[!-+--<>-~])?",
    );
    prop::collection::btree_map(member.0, member.1, 1..8).prop_map(|members| {
        members
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// Valid baggage entries: token keys, unreserved values (no percent-decoding to undo).
fn baggage_entries() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[a-zA-Z0-9_.-]{1,12}", "[a-zA-Z0-9._~-]{0,16}", 0..20)
        .prop_map(|m| m.into_iter().collect())
}

/// One byte-level edit of a header.
#[derive(Debug, Clone)]
enum Edit {
    Delete(Index),
    Insert(Index, char),
    Replace(Index, char),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let chars = prop_oneof![
        4 => select("0123456789abcdefABCDEF-;=,+ \t%".chars().collect::<Vec<_>>()),
        1 => any::<char>(),
    ];
    prop_oneof![
        (any::<Index>()).prop_map(Edit::Delete),
        (any::<Index>(), chars.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<Index>(), chars).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<Index>()).prop_map(Edit::Truncate),
    ]
}

fn mutate(valid: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = valid.chars().collect();
    for edit in edits {
        let len = chars.len();
        match edit {
            Edit::Delete(i) if len > 0 => {
                chars.remove(i.index(len));
            }
            Edit::Insert(i, c) => chars.insert(i.index(len + 1), *c),
            Edit::Replace(i, c) if len > 0 => chars[i.index(len)] = *c,
            Edit::Truncate(i) => chars.truncate(i.index(len + 1)),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// A header value: arbitrary text, text over the headers' alphabet, a valid header, or a valid
/// header edited.
fn field(valid: BoxedStrategy<String>) -> impl Strategy<Value = Option<String>> {
    let edited = (valid.clone(), prop::collection::vec(edit(), 1..4))
        .prop_map(|(v, edits)| mutate(&v, &edits));
    prop::option::weighted(
        0.8,
        prop_oneof![
            1 => "\\PC{0,64}",
            2 => "[0-9a-fA-F;=, +-]{0,80}",
            2 => valid,
            5 => edited,
        ],
    )
}

fn any_traceparent() -> BoxedStrategy<String> {
    (ids(), any::<bool>(), 0..4u8)
        .prop_map(|(ids, sampled, kind)| match kind {
            // Version and flags other than today's: a future version may carry more fields.
            0 => format!("ff{}", &ids.traceparent(sampled)[2..]),
            1 => format!("{}-extra", ids.traceparent(sampled).replacen("00", "cc", 1)),
            _ => ids.traceparent(sampled),
        })
        .boxed()
}

fn any_xray() -> BoxedStrategy<String> {
    (ids(), any_xray_parts())
        .prop_map(|(ids, (sampled, extra))| ids.xray(sampled, extra))
        .boxed()
}

/// Baggage headers: a few valid entries, many (past the entry bound), long ones (past the byte
/// bound), with properties and percent-escapes.
fn any_baggage() -> BoxedStrategy<String> {
    let entry = prop_oneof![
        4 => ("[a-z]{1,8}", "[a-zA-Z0-9%]{0,12}").prop_map(|(k, v)| format!("{k}={v}")),
        1 => ("[a-z]{1,4}", 1000..5000usize).prop_map(|(k, n)| format!("{k}={}", "v".repeat(n))),
        1 => ("[a-z]{1,8}", "[a-z]{1,4}").prop_map(|(k, p)| format!("{k}=1;{p};{p}=x")),
    ];
    prop::collection::vec(entry, 0..150)
        .prop_map(|entries| entries.join(","))
        .boxed()
}

fn headers() -> impl Strategy<Value = Headers> {
    (
        field(any_traceparent()),
        field(tracestate().boxed()),
        field(any_baggage()),
        field(any_xray()),
        field(any_xray()),
        any::<bool>(),
    )
        .prop_map(
            |(traceparent, tracestate, baggage, xray, lambda, sqs)| Headers {
                traceparent,
                tracestate,
                baggage,
                xray,
                lambda,
                sqs,
            },
        )
}

#[test]
fn arbitrary_and_edited_headers_never_panic_and_give_valid_contexts() {
    for propagators in ORDERS {
        let invocations = invocations(propagators);
        runner(400)
            .run(&headers(), |headers| {
                let run = run(&invocations, &headers)?;
                check_valid(&run)?;
                // Only a W3C parent's decision not to sample drops the span: an X-Ray
                // header's `Sampled=0` is ignored by default.
                prop_assert!(
                    run.span.is_some() || (headers.traceparent.is_some() && !headers.sqs),
                    "no span: {:?}",
                    headers
                );
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{propagators:?}: {e}"));
    }
}

#[test]
fn valid_w3c_headers_round_trip() {
    let invocations = invocations(&[Propagator::TraceContext, Propagator::Baggage]);
    let strategy = (
        ids(),
        any::<bool>(),
        tracestate(),
        baggage_entries(),
        any::<bool>(),
    );
    runner(300)
        .run(&strategy, |(ids, sampled, state, entries, sqs)| {
            let baggage = entries
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let headers = Headers {
                traceparent: Some(ids.traceparent(sampled)),
                tracestate: Some(state.clone()),
                baggage: (!entries.is_empty()).then_some(baggage),
                sqs,
                ..Headers::default()
            };
            let run = run(&invocations, &headers)?;
            check_valid(&run)?;
            if sqs {
                // A message's context is a link, never the parent.
                let span = run.span.as_ref().expect("no parent: sampled");
                prop_assert_eq!(span.parent_span_id, SpanId::INVALID);
                prop_assert_eq!(span.links.links.len(), 1);
                let link = &span.links.links[0].span_context;
                prop_assert!(ids.is(link));
                prop_assert_eq!(link.trace_state().header(), state);
                return Ok(());
            }
            let Some(span) = run.span else {
                prop_assert!(!sampled, "a sampled parent's span was dropped");
                return Ok(());
            };
            prop_assert!(sampled, "an unsampled parent's decision was not followed");
            prop_assert!(ids.matches(&span));
            prop_assert_eq!(span.span_context.trace_state().header(), state);
            let mut seen = run.baggage;
            seen.sort();
            prop_assert_eq!(seen, entries);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn valid_xray_headers_round_trip() {
    let carrier = invocations(&[Propagator::Xray]);
    let lambda = invocations(&[Propagator::XrayLambda]);
    let strategy = (ids(), any_xray_parts(), any::<bool>());
    runner(300)
        .run(&strategy, |(ids, (sampled, extra), sqs)| {
            let header = ids.xray(sampled, extra);
            // In the event's carrier: the parent, or for a message, a link.
            let in_carrier = Headers {
                xray: Some(header.clone()),
                sqs,
                ..Headers::default()
            };
            let span = run(&carrier, &in_carrier)?
                .span
                .expect("Sampled=0 is ignored");
            if sqs {
                prop_assert_eq!(span.parent_span_id, SpanId::INVALID);
                prop_assert!(span.links.links.iter().any(|l| ids.is(&l.span_context)));
            } else {
                prop_assert!(ids.matches(&span), "{header}");
            }
            // Lambda's own header, read by xray-lambda whatever the event.
            let from_lambda = Headers {
                lambda: Some(header.clone()),
                sqs,
                ..Headers::default()
            };
            let span = run(&lambda, &from_lambda)?
                .span
                .expect("Sampled=0 is ignored");
            prop_assert!(ids.matches(&span), "{header}");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

fn any_xray_parts() -> impl Strategy<Value = (&'static str, &'static str)> {
    (
        select(vec!["", ";Sampled=1", ";Sampled=0", ";Sampled=?"]),
        select(vec![
            "",
            ";Lineage=a87bd80c:1|68fd508a:5",
            ";Self=1-67891233-abcdef012345678912345678",
            ";Foo=bar",
        ]),
    )
}
