use opentelemetry::trace::{
    SpanContext, TraceContextExt, TraceFlags, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Array, Context, InstrumentationScope, Value, trace::Span};
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanEvents, SpanLinks};
use serde_json::{Value as Json, json};

use super::super::test_support::{
    FailingWriter, SAMPLE_NANOS, SharedBuf, at, parse_rfc3339, poll_once,
};
use super::*;

fn ctx(trace: u128, span: u64) -> SpanContext {
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    )
}

fn span_data(name: &'static str) -> SpanData {
    SpanData {
        span_context: ctx(
            0x5b8a_a5a2_d2c8_72e8_321c_f373_08d6_9df2,
            0x0515_81bf_3cb5_5c13,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: name.into(),
        start_time: at(SAMPLE_NANOS),
        end_time: at(SAMPLE_NANOS + 2_500_000),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("lambda-otel").build(),
    }
}

#[test]
fn line_has_fields_in_documented_order() {
    let buf = SharedBuf::default();
    let exporter = ConsoleExporter::with_writer(buf.clone());
    poll_once(exporter.export(vec![span_data("GET /roll")])).expect("export succeeds");

    let text = buf.text();
    assert_eq!(
        text,
        concat!(
            r#"{"name":"GET /roll","trace_id":"5b8aa5a2d2c872e8321cf37308d69df2","#,
            r#""span_id":"051581bf3cb55c13","parent_span_id":null,"kind":"server","#,
            r#""start_time":"2026-11-21T20:28:54.123456789Z","#,
            r#""end_time":"2026-11-21T20:28:54.125956789Z","duration_ns":2500000,"#,
            r#""status":{"code":"unset"},"attributes":{},"resource":{},"#,
            r#""scope":"lambda-otel"}"#,
            "\n",
        )
    );
}

#[test]
fn one_line_per_span_in_a_batch() {
    let buf = SharedBuf::default();
    let exporter = ConsoleExporter::with_writer(buf.clone());
    let batch = vec![span_data("a"), span_data("b"), span_data("c")];
    poll_once(exporter.export(batch)).expect("export succeeds");

    let names: Vec<Json> = buf.lines().into_iter().map(|l| l["name"].clone()).collect();
    assert_eq!(names, [json!("a"), json!("b"), json!("c")]);
}

#[test]
fn links_with_attributes_and_ok_status() {
    let buf = SharedBuf::default();
    let exporter = ConsoleExporter::with_writer(buf.clone());
    let mut span = span_data("consume");
    span.span_kind = SpanKind::Consumer;
    span.status = Status::Ok;
    span.links.links.push(Link::new(
        ctx(0xabc, 0xdef),
        vec![KeyValue::new("messaging.message.id", "m-1")],
        0,
    ));
    poll_once(exporter.export(vec![span])).expect("export succeeds");

    let line = &buf.lines()[0];
    assert_eq!(line["kind"], "consumer");
    assert_eq!(line["status"], json!({ "code": "ok" }));
    assert!(line.get("events").is_none(), "empty events are omitted");
    assert_eq!(
        line["links"],
        json!([{
            "trace_id": "00000000000000000000000000000abc",
            "span_id": "0000000000000def",
            "attributes": { "messaging.message.id": "m-1" },
        }])
    );
}

#[test]
fn backwards_clock_gives_zero_duration() {
    let mut span = span_data("skewed");
    span.end_time = span.start_time - Duration::from_millis(1);
    assert_eq!(SpanLine::new(&span, &[]).duration_ns, 0);
}

#[test]
fn real_spans_through_a_tracer_provider() {
    let buf = SharedBuf::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(ConsoleExporter::with_writer(buf.clone()))
        .with_resource(
            Resource::builder_empty()
                .with_service_name("dice-roller")
                .build(),
        )
        .build();
    let tracer = provider.tracer("lambda-otel-test");

    let root = tracer
        .span_builder("GET /roll")
        .with_kind(SpanKind::Server)
        .start(&tracer);
    let root_context = root.span_context().clone();
    let cx = Context::current_with_span(root);

    let mut child = tracer
        .span_builder("roll")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &cx);
    let child_context = child.span_context().clone();
    child.set_attribute(KeyValue::new("dice.sides", 6_i64));
    child.set_attribute(KeyValue::new("dice.player", "ada"));
    child.set_attribute(KeyValue::new("dice.fair", true));
    child.set_attribute(KeyValue::new("dice.weight", 0.25_f64));
    child.set_attribute(KeyValue::new(
        "dice.history",
        Value::Array(Array::I64(vec![3, 6, 1])),
    ));
    child.add_event("rolled", vec![KeyValue::new("dice.value", 4_i64)]);
    child.set_status(Status::error("table collapsed"));
    child.end();
    cx.span().end();
    provider.shutdown().expect("provider shuts down");

    let lines = buf.lines();
    assert_eq!(lines.len(), 2);
    let (child, root) = (&lines[0], &lines[1]);

    assert_eq!(root["name"], "GET /roll");
    assert_eq!(root["kind"], "server");
    assert_eq!(root["trace_id"], root_context.trace_id().to_string());
    assert_eq!(root["span_id"], root_context.span_id().to_string());
    assert_eq!(root["parent_span_id"], Json::Null);
    assert_eq!(root["status"], json!({ "code": "unset" }));
    assert_eq!(root["scope"], "lambda-otel-test");
    assert_eq!(root["resource"], json!({ "service.name": "dice-roller" }));

    assert_eq!(child["name"], "roll");
    assert_eq!(child["kind"], "client");
    assert_eq!(child["trace_id"], root["trace_id"]);
    assert_eq!(child["span_id"], child_context.span_id().to_string());
    assert_eq!(child["parent_span_id"], root["span_id"]);
    for id in ["trace_id", "span_id", "parent_span_id"] {
        let hex = child[id].as_str().expect("ids are strings");
        let width = if id == "trace_id" { 32 } else { 16 };
        assert_eq!(hex.len(), width, "{id} is {width} hex digits");
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert_eq!(
        child["attributes"],
        json!({
            "dice.sides": 6,
            "dice.player": "ada",
            "dice.fair": true,
            "dice.weight": 0.25,
            "dice.history": [3, 6, 1],
        })
    );
    assert_eq!(
        child["status"],
        json!({ "code": "error", "message": "table collapsed" })
    );
    let events = child["events"].as_array().expect("events array");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["name"], "rolled");
    assert_eq!(events[0]["attributes"], json!({ "dice.value": 4 }));
    assert!(child.get("links").is_none(), "empty links are omitted");

    for line in [child, root] {
        let start = parse_rfc3339(line["start_time"].as_str().expect("start string"));
        let end = parse_rfc3339(line["end_time"].as_str().expect("end string"));
        let expected = end
            .duration_since(start)
            .expect("end after start")
            .as_nanos();
        assert_eq!(
            u128::from(line["duration_ns"].as_u64().expect("int")),
            expected
        );
    }
    let event_time = parse_rfc3339(events[0]["time"].as_str().expect("time string"));
    assert!(parse_rfc3339(child["start_time"].as_str().expect("start")) <= event_time);
}

#[test]
fn failing_writer_is_an_error_not_a_panic() {
    let exporter = ConsoleExporter::with_writer(FailingWriter);
    let result = poll_once(exporter.export(vec![span_data("lost")]));
    match result {
        Err(OTelSdkError::InternalFailure(message)) => assert!(message.contains("disk full")),
        other => panic!("expected InternalFailure, got {other:?}"),
    }
    assert!(exporter.force_flush().is_err());
}

#[test]
fn export_after_shutdown_is_refused() {
    let buf = SharedBuf::default();
    let exporter = ConsoleExporter::with_writer(buf.clone());
    exporter.shutdown().expect("shutdown succeeds");
    let result = poll_once(exporter.export(vec![span_data("late")]));
    assert!(matches!(result, Err(OTelSdkError::AlreadyShutdown)));
    assert!(buf.text().is_empty());
}

#[test]
fn debug_does_not_need_a_debug_writer() {
    let mut exporter = ConsoleExporter::with_writer(FailingWriter);
    exporter.set_resource(&Resource::builder_empty().with_service_name("svc").build());
    let debug = format!("{exporter:?}");
    assert!(debug.starts_with("ConsoleExporter"));
    assert!(debug.contains("svc"));
}
