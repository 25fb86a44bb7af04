use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Value as Json, json};

use super::super::test_support::{FailingWriter, SAMPLE_NANOS, SharedBuf, at, poll_once};
use super::*;

fn provider(buf: &SharedBuf) -> SdkLoggerProvider {
    SdkLoggerProvider::builder()
        .with_simple_exporter(ConsoleLogExporter::with_writer(buf.clone()))
        .with_resource(
            Resource::builder_empty()
                .with_service_name("dice-roller")
                .with_attribute(KeyValue::new("cloud.provider", "aws"))
                .build(),
        )
        .build()
}

fn emit_with_body(logger: &SdkLogger, body: AnyValue) {
    let mut record = logger.create_log_record();
    record.set_body(body);
    logger.emit(record);
}

#[test]
fn full_record_inside_a_span_has_fields_in_documented_order() {
    let buf = SharedBuf::default();
    let provider = provider(&buf);
    let logger = provider.logger("lambda-otel-test");
    let tracer_provider = SdkTracerProvider::builder().build();
    let tracer = tracer_provider.tracer("lambda-otel-test");

    let span_context = tracer.in_span("roll", |cx: Context| {
        let mut record = logger.create_log_record();
        record.set_timestamp(at(SAMPLE_NANOS));
        record.set_observed_timestamp(at(SAMPLE_NANOS + 1_000));
        record.set_severity_text("INFO");
        record.set_severity_number(Severity::Info);
        record.set_body("rolled a 4".into());
        record.set_event_name("dice.rolled");
        record.set_target("dice_roller::handler");
        record.add_attribute("dice.value", 4_i64);
        record.add_attribute("dice.fair", true);
        record.add_attribute("dice.weight", 0.25_f64);
        logger.emit(record);
        cx.span().span_context().clone()
    });
    provider.shutdown().expect("provider shuts down");

    let expected = format!(
        concat!(
            r#"{{"timestamp":"2026-11-21T20:28:54.123456789Z","#,
            r#""observed_timestamp":"2026-11-21T20:28:54.123457789Z","#,
            r#""severity_text":"INFO","severity_number":9,"body":"rolled a 4","#,
            r#""event_name":"dice.rolled","target":"dice_roller::handler","#,
            r#""trace_id":"{}","span_id":"{}","#,
            r#""attributes":{{"dice.value":4,"dice.fair":true,"dice.weight":0.25}},"#,
            r#""resource":{{"cloud.provider":"aws","service.name":"dice-roller"}},"#,
            r#""scope":"lambda-otel-test"}}"#,
            "\n",
        ),
        span_context.trace_id(),
        span_context.span_id(),
    );
    assert_ne!(span_context.trace_id(), TraceId::INVALID);
    assert_eq!(buf.text(), expected);
}

#[test]
fn bodies_keep_their_type() {
    let buf = SharedBuf::default();
    let provider = provider(&buf);
    let logger = provider.logger("lambda-otel-test");
    emit_with_body(&logger, AnyValue::Int(-7));
    emit_with_body(&logger, AnyValue::Double(1.5));
    emit_with_body(&logger, AnyValue::Boolean(false));
    emit_with_body(&logger, AnyValue::Bytes(Box::new(vec![0xde, 0xad, 0x01])));
    emit_with_body(
        &logger,
        AnyValue::ListAny(Box::new(vec![AnyValue::Int(1), "two".into()])),
    );
    emit_with_body(
        &logger,
        [("sides", AnyValue::Int(6)), ("name", "d6".into())]
            .into_iter()
            .collect(),
    );

    let bodies: Vec<Json> = buf
        .lines()
        .iter()
        .map(|line| line["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        [
            json!(-7),
            json!(1.5),
            json!(false),
            json!("dead01"),
            json!([1, "two"]),
            json!({ "name": "d6", "sides": 6 }),
        ]
    );
}

#[test]
fn optional_fields_are_left_out() {
    let buf = SharedBuf::default();
    let provider = provider(&buf);
    let logger = provider.logger("bare");
    logger.emit(logger.create_log_record());

    let line = &buf.lines()[0];
    let mut keys: Vec<&str> = line
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    // The SDK stamps every record with the time it saw it; nothing else is set.
    assert_eq!(
        keys,
        ["attributes", "observed_timestamp", "resource", "scope"]
    );
    assert_eq!(line["attributes"], json!({}));
    assert_eq!(line["scope"], "bare");
}

#[test]
fn failing_writer_and_shutdown_are_errors_not_panics() {
    let provider = SdkLoggerProvider::builder().build();
    let record = provider.logger("lambda-otel-test").create_log_record();
    let scope = InstrumentationScope::builder("lambda-otel-test").build();
    let batch = [(&record, &scope)];

    let failing = ConsoleLogExporter::with_writer(FailingWriter);
    let result = poll_once(failing.export(LogBatch::new(&batch)));
    assert!(matches!(result, Err(OTelSdkError::InternalFailure(m)) if m.contains("disk full")));

    let buf = SharedBuf::default();
    let exporter = ConsoleLogExporter::with_writer(buf.clone());
    exporter.shutdown().expect("shutdown succeeds");
    let result = poll_once(exporter.export(LogBatch::new(&batch)));
    assert!(matches!(result, Err(OTelSdkError::AlreadyShutdown)));
    assert!(buf.text().is_empty());
}

#[test]
fn debug_shows_resource_and_state_without_a_debug_writer() {
    let mut exporter = ConsoleLogExporter::with_writer(FailingWriter);
    let resource = Resource::builder_empty().with_attribute(KeyValue::new("faas.name", "roll"));
    exporter.set_resource(&resource.build());
    let before = format!("{exporter:?}");
    assert!(before.starts_with("ConsoleLogExporter"), "{before}");
    assert!(before.contains("faas.name") && before.contains("is_shutdown: false"));
    assert!(exporter.shutdown().is_err(), "the final flush fails");
    assert!(format!("{exporter:?}").contains("is_shutdown: true"));
}
