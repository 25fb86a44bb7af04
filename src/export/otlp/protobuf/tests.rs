//! A body decodes to what opentelemetry-otlp would have sent for the same items: its
//! opentelemetry-proto conversion (`group_spans_by_resource_and_scope`,
//! `group_logs_by_resource_and_scope`), for any span or log record. Deterministic: a fixed
//! seed, a fixed number of cases, no failure files.

use super::{EncodedResource, traces_request};
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed};
use prost::Message as _;
use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x07_1b_0d_45),
        ..ProptestConfig::default()
    }
}

/// What opentelemetry-otlp sends for `spans`.
fn reference(spans: &[SpanData], resource: &Resource) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            spans.to_vec(),
            &ResourceAttributesWithSchema::from(resource),
        ),
    }
}

fn decoded(spans: &[SpanData], resource: &Resource) -> ExportTraceServiceRequest {
    let body = traces_request(spans, &EncodedResource::new(resource));
    ExportTraceServiceRequest::decode(body.as_slice()).expect("a valid protobuf message")
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z.]{1,12}",
        // Long enough that lengths take two bytes, and anything Unicode.
        ".{100,200}",
        any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        // Finite: NaN is not equal to itself once decoded.
        (-1e300f64..1e300).prop_map(Value::F64),
        text().prop_map(Value::from),
    ];
    let array = prop_oneof![
        prop::collection::vec(any::<bool>(), 0..4).prop_map(Array::Bool),
        prop::collection::vec(any::<i64>(), 0..4).prop_map(Array::I64),
        prop::collection::vec(-1e9f64..1e9, 0..4).prop_map(Array::F64),
        prop::collection::vec(text().prop_map(StringValue::from), 0..4).prop_map(Array::String),
    ];
    prop_oneof![4 => scalar, 1 => array.prop_map(Value::Array)]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        (text(), value()).prop_map(|(k, v)| KeyValue::new(k, v)),
        0..6,
    )
}

fn time() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        9 => (0u64..4_000_000_000_000_000_000).prop_map(|n| UNIX_EPOCH + Duration::from_nanos(n)),
        1 => Just(UNIX_EPOCH - Duration::from_secs(1)),
    ]
}

fn context() -> impl Strategy<Value = SpanContext> {
    (
        any::<u128>(),
        any::<u64>(),
        any::<u8>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(trace, span, flags, remote, state)| {
            let state = if state {
                TraceState::from_key_value([("vendor", "value"), ("other", "x")])
                    .expect("a valid trace state")
            } else {
                TraceState::default()
            };
            SpanContext::new(
                TraceId::from(trace),
                SpanId::from(span),
                TraceFlags::new(flags),
                remote,
                state,
            )
        })
}

/// Five scopes: spans of a batch come from one or several. The fourth is the second with its
/// attributes in another order, the fifth the first with an empty version: the same scope,
/// or not, as opentelemetry-proto groups them.
fn scope(which: u8) -> InstrumentationScope {
    let attributes = [KeyValue::new("scope.key", 7), KeyValue::new("a", "b")];
    let tracing = |attributes: Vec<KeyValue>| {
        InstrumentationScope::builder("tracing-opentelemetry")
            .with_version("0.34.0")
            .with_schema_url("https://opentelemetry.io/schemas/1.36.0")
            .with_attributes(attributes)
            .build()
    };
    match which % 5 {
        0 => InstrumentationScope::builder("lambda-otel").build(),
        1 => tracing(attributes.to_vec()),
        2 => InstrumentationScope::builder("").build(),
        3 => tracing(attributes.into_iter().rev().collect()),
        _ => InstrumentationScope::builder("lambda-otel")
            .with_version("")
            .build(),
    }
}

fn span() -> impl Strategy<Value = SpanData> {
    let ids = (context(), prop::option::of(any::<u64>()), any::<bool>());
    let shape = (
        text(),
        0u8..5,
        time(),
        time(),
        attributes(),
        any::<u32>(),
        any::<u8>(),
    );
    let events = prop::collection::vec((text(), time(), attributes(), any::<u32>()), 0..3);
    let links = prop::collection::vec((context(), attributes(), any::<u32>()), 0..3);
    let status = prop_oneof![
        Just(Status::Unset),
        Just(Status::Ok),
        text().prop_map(Status::error),
    ];
    (
        ids,
        shape,
        events,
        any::<u32>(),
        links,
        any::<u32>(),
        status,
    )
        .prop_map(
            |(ids, shape, events, dropped_events, links, dropped_links, status)| {
                let (span_context, parent, parent_is_remote) = ids;
                let (name, kind, start, end, attributes, dropped, which) = shape;
                let mut span_events = SpanEvents::default();
                span_events.events = events
                    .into_iter()
                    .map(|(name, at, attributes, dropped)| {
                        Event::new(name, at, attributes, dropped)
                    })
                    .collect();
                span_events.dropped_count = dropped_events;
                let mut span_links = SpanLinks::default();
                span_links.links = links
                    .into_iter()
                    .map(|(cx, attributes, dropped)| Link::new(cx, attributes, dropped))
                    .collect();
                span_links.dropped_count = dropped_links;
                SpanData {
                    span_context,
                    parent_span_id: parent.map_or(SpanId::INVALID, SpanId::from),
                    parent_span_is_remote: parent_is_remote,
                    span_kind: [
                        SpanKind::Internal,
                        SpanKind::Server,
                        SpanKind::Client,
                        SpanKind::Producer,
                        SpanKind::Consumer,
                    ][usize::from(kind)]
                    .clone(),
                    name: Cow::Owned(name),
                    start_time: start,
                    end_time: end,
                    attributes,
                    dropped_attributes_count: dropped,
                    events: span_events,
                    links: span_links,
                    status,
                    instrumentation_scope: scope(which),
                }
            },
        )
}

fn resource() -> impl Strategy<Value = Resource> {
    (attributes(), any::<bool>()).prop_map(|(attributes, schema)| {
        let builder = Resource::builder_empty().with_attributes(attributes);
        if schema {
            builder
                .with_schema_url([], "https://opentelemetry.io/schemas/1.36.0")
                .build()
        } else {
            builder.build()
        }
    })
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn any_batch_decodes_to_what_opentelemetry_otlp_sends(
        spans in prop::collection::vec(span(), 0..5),
        resource in resource(),
    ) {
        prop_assert_eq!(decoded(&spans, &resource), reference(&spans, &resource));
    }
}

/// Lengths of three bytes and more (16 KiB and over): the message is moved up by two bytes or
/// more once its length is known, inside messages that are moved in turn.
#[test]
fn long_values_and_many_attributes_decode_to_what_opentelemetry_otlp_sends() {
    let long = "ü".repeat(40_000);
    let mut span = one_span();
    span.attributes = (0..300)
        .map(|i| KeyValue::new(format!("key.{i}"), format!("value {i}")))
        .chain([KeyValue::new("long", long.clone())])
        .collect();
    span.name = Cow::Owned(long);
    let resource = Resource::builder_empty()
        .with_attributes([KeyValue::new("service.name", "x".repeat(20_000))])
        .build();
    let spans = [span.clone(), span];
    let body = traces_request(&spans, &EncodedResource::new(&resource));
    assert!(body.len() > 3 * (1 << 14), "{} bytes", body.len());
    assert_eq!(decoded(&spans, &resource), reference(&spans, &resource));
}

fn one_span() -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed("one"),
        start_time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        end_time: UNIX_EPOCH + Duration::from_secs(1_700_000_001),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope(0),
    }
}

#[test]
fn the_dice_rollers_spans_decode_to_what_opentelemetry_otlp_sends() {
    let trace = TraceId::from(0x5759_e988_bd86_2e3f_e1be_46a9_9427_2793_u128);
    let cx = |span: u64| {
        SpanContext::new(
            trace,
            SpanId::from(span),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    };
    let start = SystemTime::now();
    let invocation = SpanData {
        span_context: cx(0x53995c3f42cd8ad8),
        parent_span_id: SpanId::from(0x1a2b3c4d5e6f7a8b),
        parent_span_is_remote: true,
        span_kind: SpanKind::Server,
        name: Cow::Borrowed("GET /rolldice"),
        start_time: start,
        end_time: start + Duration::from_micros(850),
        attributes: vec![
            KeyValue::new("faas.trigger", "http"),
            KeyValue::new("faas.coldstart", true),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("faas.duration_ns", 850_123_i64),
        ],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope(0),
    };
    let roll = SpanData {
        span_context: cx(0x0102030405060708),
        parent_span_id: SpanId::from(0x53995c3f42cd8ad8),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed("roll"),
        attributes: vec![KeyValue::new("dice.value", 4)],
        instrumentation_scope: scope(1),
        ..invocation.clone()
    };
    let resource = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "dice-roller"),
            KeyValue::new("cloud.provider", "aws"),
        ])
        .build();
    let spans = [invocation, roll];
    let decoded = decoded(&spans, &resource);
    assert_eq!(decoded, reference(&spans, &resource));
    // Two scopes, in the order they came, each with its span.
    let scopes = &decoded.resource_spans[0].scope_spans;
    assert_eq!(scopes.len(), 2);
    assert_eq!(scopes[1].spans[0].name, "roll");
}

/// Lengths at each varint boundary, up to four bytes: a string value of that many bytes.
#[test]
fn a_message_of_any_length_has_its_length_before_it() {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
    for len in [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
        let mut buf = Vec::new();
        super::message(&mut buf, 1, |buf| buf.resize(buf.len() + len, b'a'));
        let decoded = AnyValue::decode(buf.as_slice()).expect("a valid message");
        let Some(any_value::Value::StringValue(text)) = decoded.value else {
            panic!("{len}: {decoded:?}");
        };
        assert_eq!(text.len(), len);
    }
}

#[test]
fn a_partial_success_is_read_from_any_signals_answer() {
    use super::partial_success;
    use opentelemetry_proto::tonic::collector::logs::v1::{
        ExportLogsPartialSuccess, ExportLogsServiceResponse,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceResponse,
    };
    let traces = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "3 spans had no name".into(),
        }),
    };
    assert_eq!(
        partial_success(&traces.encode_to_vec()),
        Some((3, "3 spans had no name".to_owned()))
    );
    let logs = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: 0,
            error_message: "deprecated field".into(),
        }),
    };
    assert_eq!(
        partial_success(&logs.encode_to_vec()),
        Some((0, "deprecated field".to_owned()))
    );
    // Full success: no answer body, an empty partial success, or fields this code does not
    // know before it (skipped).
    assert_eq!(partial_success(&[]), None);
    let empty = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess::default()),
    };
    assert_eq!(partial_success(&empty.encode_to_vec()), None);
    let mut unknown = vec![0x10, 0x05, 0x1d, 1, 2, 3, 4];
    unknown.extend(traces.encode_to_vec());
    assert_eq!(partial_success(&unknown).map(|(n, _)| n), Some(3));
    // Not protobuf (a collector answering text with a 200): nothing.
    assert_eq!(partial_success(b"OK"), None);
}

#[cfg(feature = "logs")]
mod logs {
    use super::super::{EncodedResource, logs_request};
    use super::{resource, scope, text, time};
    use opentelemetry::logs::{
        AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity,
    };
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
    use opentelemetry::{InstrumentationScope, Key};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord, SdkLoggerProvider};
    use proptest::prelude::*;
    use prost::Message as _;
    use std::collections::HashMap;
    use std::time::SystemTime;

    /// opentelemetry-proto's scopes come out in its map's order: compared in name order.
    fn sorted(mut request: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
        for resource_logs in &mut request.resource_logs {
            resource_logs.scope_logs.sort_by(|a, b| {
                let key = |s: &opentelemetry_proto::tonic::logs::v1::ScopeLogs| {
                    let scope = s.scope.clone().unwrap_or_default();
                    let attributes = format!("{:?}", scope.attributes);
                    (scope.name, scope.version, s.schema_url.clone(), attributes)
                };
                key(a).cmp(&key(b))
            });
        }
        request
    }

    fn both(
        batch: &[(SdkLogRecord, InstrumentationScope)],
        resource: &Resource,
    ) -> (ExportLogsServiceRequest, ExportLogsServiceRequest) {
        let refs: Vec<_> = batch.iter().map(|(r, s)| (r, s)).collect();
        let batch = LogBatch::new(&refs);
        let body = logs_request(&batch, &EncodedResource::new(resource));
        let ours = ExportLogsServiceRequest::decode(body.as_slice()).expect("valid protobuf");
        let theirs = ExportLogsServiceRequest {
            resource_logs: group_logs_by_resource_and_scope(
                &batch,
                &ResourceAttributesWithSchema::from(resource),
            ),
        };
        (sorted(ours), sorted(theirs))
    }

    fn value() -> impl Strategy<Value = AnyValue> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(AnyValue::Int),
            (-1e300f64..1e300).prop_map(AnyValue::Double),
            text().prop_map(AnyValue::from),
            any::<bool>().prop_map(AnyValue::Boolean),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| AnyValue::Bytes(Box::new(b))),
        ];
        leaf.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| AnyValue::ListAny(Box::new(v))),
                prop::collection::vec(("[a-z]{1,6}", inner), 0..3).prop_map(|kvs| {
                    let map: HashMap<Key, AnyValue> =
                        kvs.into_iter().map(|(k, v)| (Key::from(k), v)).collect();
                    AnyValue::Map(Box::new(map))
                }),
            ]
        })
    }

    type Shape = (
        Option<SystemTime>,
        SystemTime,
        Option<u8>,
        Option<AnyValue>,
        Vec<(String, AnyValue)>,
        Option<(u128, u64, Option<u8>)>,
        Option<String>,
        u8,
        bool,
    );

    fn shape() -> impl Strategy<Value = Shape> {
        (
            prop::option::of(time()),
            time(),
            prop::option::of(1u8..=24),
            prop::option::of(value()),
            prop::collection::vec(("[a-z.]{0,8}", value()), 0..4),
            prop::option::of((any::<u128>(), any::<u64>(), prop::option::of(any::<u8>()))),
            prop::option::of(prop_oneof![Just(String::new()), "[a-z:]{1,12}"]),
            any::<u8>(),
            any::<bool>(),
        )
    }

    fn record(provider: &SdkLoggerProvider, shape: Shape) -> (SdkLogRecord, InstrumentationScope) {
        let (at, observed, severity, body, attributes, cx, target, which, named) = shape;
        let mut record = provider.logger("unused").create_log_record();
        if let Some(at) = at {
            record.set_timestamp(at);
        }
        // opentelemetry-proto unwraps it: the SDK's logger always sets it.
        record.set_observed_timestamp(observed);
        if let Some(n) = severity {
            record.set_severity_number(SEVERITIES[usize::from(n) - 1]);
            record.set_severity_text(SEVERITIES[usize::from(n) - 1].name());
        }
        if let Some(body) = body {
            record.set_body(body);
        }
        for (k, v) in attributes {
            record.add_attribute(k, v);
        }
        if let Some((trace, span, flags)) = cx {
            record.set_trace_context(
                TraceId::from(trace),
                SpanId::from(span),
                flags.map(TraceFlags::new),
            );
        }
        if let Some(target) = target {
            record.set_target(target);
        }
        if named {
            record.set_event_name("dice.rolled");
        }
        (record, scope(which))
    }

    const SEVERITIES: [Severity; 24] = [
        Severity::Trace,
        Severity::Trace2,
        Severity::Trace3,
        Severity::Trace4,
        Severity::Debug,
        Severity::Debug2,
        Severity::Debug3,
        Severity::Debug4,
        Severity::Info,
        Severity::Info2,
        Severity::Info3,
        Severity::Info4,
        Severity::Warn,
        Severity::Warn2,
        Severity::Warn3,
        Severity::Warn4,
        Severity::Error,
        Severity::Error2,
        Severity::Error3,
        Severity::Error4,
        Severity::Fatal,
        Severity::Fatal2,
        Severity::Fatal3,
        Severity::Fatal4,
    ];

    proptest! {
        #![proptest_config(super::config(300))]

        #[test]
        fn any_batch_decodes_to_what_opentelemetry_otlp_sends(
            shapes in prop::collection::vec(shape(), 0..5),
            resource in resource(),
        ) {
            let provider = SdkLoggerProvider::builder().build();
            let batch: Vec<_> = shapes.into_iter().map(|s| record(&provider, s)).collect();
            let (ours, theirs) = both(&batch, &resource);
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn a_records_target_names_its_scope_and_records_of_one_scope_go_together() {
        let provider = SdkLoggerProvider::builder().build();
        let shape = |target: Option<&str>| -> Shape {
            (
                None,
                SystemTime::now(),
                Some(9),
                Some(AnyValue::from("Alice rolled 4")),
                vec![("roll".into(), AnyValue::Int(4))],
                None,
                target.map(str::to_owned),
                0,
                false,
            )
        };
        let batch = [
            record(&provider, shape(Some("dice_roller::roll"))),
            record(&provider, shape(None)),
            record(&provider, shape(Some("dice_roller::roll"))),
        ];
        let resource = Resource::builder_empty().build();
        let (ours, theirs) = both(&batch, &resource);
        assert_eq!(ours, theirs);
        let scopes = &ours.resource_logs[0].scope_logs;
        let names: Vec<_> = scopes
            .iter()
            .map(|s| {
                (
                    s.scope.clone().unwrap_or_default().name,
                    s.log_records.len(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("dice_roller::roll".to_owned(), 2),
                ("lambda-otel".to_owned(), 1)
            ]
        );
    }
}
