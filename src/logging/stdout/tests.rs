mod lines;

use super::layer;
use crate::LogFormat;
use crate::logging::RequestId;
use lines::{Buffer, assert_timestamp, json, text};
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde_json::Value as Json;
use std::io;
use tracing::{debug, error, info, trace, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::prelude::*;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// A tracer with no exporter: spans get real ids and go nowhere.
fn tracer() -> SdkTracer {
    SdkTracerProvider::builder().build().tracer("stdout-tests")
}

/// Runs `f` under a subscriber like the function's: OpenTelemetry spans and Lambda log lines.
fn capture(format: LogFormat, f: impl FnOnce(&SdkTracer)) -> Vec<String> {
    let tracer = tracer();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer.clone()))
        .with(layer(format, buffer.clone()));
    tracing::subscriber::with_default(subscriber, || f(&tracer));
    buffer.lines()
}

/// What an invocation attaches while its code runs, as far as the lines can tell: its span
/// and its request id.
struct Invocation(opentelemetry::Context);

impl Invocation {
    fn context(&self) -> &opentelemetry::Context {
        &self.0
    }
}

fn invocation(tracer: &SdkTracer) -> Invocation {
    // A root span, as the invocation's is without a parent in the event.
    let root = opentelemetry::Context::new();
    let span = tracer.start_with_context("invocation", &root);
    Invocation(
        root.with_span(span)
            .with_value(RequestId(REQUEST_ID.into())),
    )
}

/// The ids an event sees: trace and span id of the invocation, and of a span entered in it.
struct Ids {
    invocation: (String, String),
    inner: (String, String),
}

fn ids_of(cx: &opentelemetry::Context) -> (String, String) {
    let span = cx.span();
    let sc = span.span_context();
    (sc.trace_id().to_string(), sc.span_id().to_string())
}

/// Logs outside everything, in the invocation, and in a `tracing` span within it.
fn three_places(tracer: &SdkTracer, ids: &mut Option<Ids>) {
    info!("outside");
    let invocation = invocation(tracer);
    let _attached = invocation.context().clone().attach();
    info!("invocation");
    let span = tracing::info_span!("roll");
    let _entered = span.enter();
    info!("inner");
    *ids = Some(Ids {
        invocation: ids_of(invocation.context()),
        inner: ids_of(&span.context()),
    });
}

#[test]
fn json_lines_carry_the_request_id_and_the_current_span() {
    let mut ids = None;
    let lines = json(&capture(LogFormat::Json, |t| three_places(t, &mut ids)));
    let Ids { invocation, inner } = ids.expect("ran");
    assert_eq!(
        inner.0, invocation.0,
        "the tracing span is in the invocation's trace"
    );
    assert_ne!(inner.1, invocation.1);
    let [outside, in_invocation, in_span] = &lines[..] else {
        panic!("{lines:?}");
    };

    assert_eq!(outside.keys, ["timestamp", "level", "target", "message"]);
    assert_timestamp(outside["timestamp"].as_str().expect("a string"));
    assert_eq!(outside["message"], "outside");
    assert_eq!(outside["target"], module_path!());

    for (line, (trace_id, span_id), message) in [
        (in_invocation, &invocation, "invocation"),
        (in_span, &inner, "inner"),
    ] {
        assert_eq!(
            line.keys,
            [
                "timestamp",
                "level",
                "requestId",
                "trace_id",
                "span_id",
                "target",
                "message"
            ]
        );
        assert_eq!(line["requestId"], REQUEST_ID, "{message}");
        assert_eq!(line["trace_id"], trace_id.as_str(), "{message}");
        assert_eq!(line["span_id"], span_id.as_str(), "{message}");
        assert_eq!(line["message"], message);
    }
}

#[test]
fn text_lines_carry_the_request_id_and_the_current_span() {
    let mut ids = None;
    let lines = capture(LogFormat::Text, |t| three_places(t, &mut ids));
    let Ids { invocation, inner } = ids.expect("ran");
    let [outside, in_invocation, in_span] = &lines[..] else {
        panic!("{lines:?}");
    };

    let outside = text(outside);
    assert_timestamp(&outside.timestamp);
    assert_eq!((&*outside.request_id, &*outside.level), ("-", "INFO"));
    assert_eq!(outside.words, ["outside"]);
    assert!(outside.fields.is_empty(), "{:?}", outside.fields);

    for (line, (trace_id, span_id), message) in [
        (in_invocation, &invocation, "invocation"),
        (in_span, &inner, "inner"),
    ] {
        let line = text(line);
        assert_eq!(line.request_id, REQUEST_ID, "{message}");
        assert_eq!(line.words, [message]);
        let expected = [("trace_id", trace_id), ("span_id", span_id)];
        let fields: Vec<(&str, &String)> =
            line.fields.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(fields, expected, "ids come last, once");
    }
}

#[test]
fn json_fields_keep_their_type_and_never_shadow_the_line() {
    let lines = json(&capture(LogFormat::Json, |_| {
        info!(
            player = "Alice",
            roll = 4,
            big = u64::MAX,
            ratio = 0.5,
            nan = f64::NAN,
            lucky = true,
            dice = ?[4, 2],
            shown = %"text",
            level = "mine",
            target = 1,
            requestId = "r",
            trace_id = "t",
            timestamp = false,
            "Alice rolled {}", 4
        );
    }));
    let line = &lines[0];
    assert_eq!(line["message"], "Alice rolled 4");
    assert_eq!(line["player"], "Alice");
    assert_eq!(line["roll"].as_i64(), Some(4));
    assert_eq!(line["big"].as_u64(), Some(u64::MAX));
    assert_eq!(line["ratio"].as_f64(), Some(0.5));
    assert_eq!(line["nan"], Json::Null);
    assert_eq!(line["lucky"], true);
    assert_eq!(line["dice"], "[4, 2]");
    assert_eq!(line["shown"], "text");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["field.level"], "mine");
    assert_eq!(line["target"], module_path!());
    assert_eq!(line["field.target"], 1);
    assert_eq!(line["field.requestId"], "r");
    assert_eq!(line["field.trace_id"], "t");
    assert_eq!(line["field.timestamp"], false);
    assert!(!line.object.contains_key("requestId") && !line.object.contains_key("trace_id"));
}

#[test]
fn text_fields_are_quoted_only_when_they_would_not_split() {
    let lines = capture(LogFormat::Text, |_| {
        info!(
            player = "Alice",
            roll = 4,
            phrase = "two words",
            pair = "a=b",
            said = "say \"hi\"",
            empty = "",
            multi = "one\ntwo",
            dice = ?[4, 2],
            trace_id = "mine",
            "Alice rolled\n4"
        );
    });
    let [line] = &lines[..] else {
        panic!("a multi-line message or value must stay one line: {lines:?}");
    };
    let rest = line.split('\t').nth(3).expect("four columns");
    assert!(
        rest.starts_with("\"Alice rolled\\n4\" player=Alice roll=4 phrase=\"two words\" "),
        "{rest}"
    );
    let parsed = text(line);
    let fields: Vec<(&str, &str)> = parsed
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("player", "Alice"),
            ("roll", "4"),
            ("phrase", "two words"),
            ("pair", "a=b"),
            ("said", "say \"hi\""),
            ("empty", ""),
            ("multi", "one\ntwo"),
            ("dice", "[4, 2]"),
            ("field.trace_id", "mine"),
        ]
    );
}

/// A message and a value built to forge a column, a line, a level and the ids.
const FORGED: &str = "ok\tERROR\tfake\r\n2026-11-21T10:00:00.000000Z\t-\tINFO\tx \
    trace_id=ffffffffffffffffffffffffffffffff span_id=ffffffffffffffff";

#[test]
fn a_text_message_cannot_forge_columns_lines_or_ids() {
    let mut ids = None;
    let lines = capture(LogFormat::Text, |t| {
        let invocation = invocation(t);
        let _attached = invocation.context().clone().attach();
        info!(note = FORGED, "{FORGED}");
        ids = Some(ids_of(invocation.context()));
    });
    let (trace_id, span_id) = ids.expect("ran");
    let [line] = &lines[..] else {
        panic!("one event, one line: {lines:?}");
    };
    assert!(!line.contains(['\r', '\n']), "{line:?}");
    let parsed = text(line);
    assert_eq!(parsed.level, "INFO");
    let message: String = serde_json::from_str(&parsed.words.join(" ")).expect("one quoted token");
    assert_eq!(message, FORGED, "the message, whole");
    let fields: Vec<(&str, &str)> = parsed
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("note", FORGED),
            ("trace_id", &trace_id),
            ("span_id", &span_id)
        ]
    );
    let end = format!("\ttrace_id={trace_id} span_id={span_id}");
    assert!(
        line.ends_with(&end[1..]),
        "the real ids end the line: {line}"
    );
}

#[test]
fn text_escapes_every_unsafe_character_as_json_does() {
    let lines = capture(LogFormat::Text, |_| {
        info!(
            esc = "\u{1b}[31mred",
            nul = "a\0b",
            nel = "a\u{85}b",
            del = "a\u{7f}b",
            ls = "a\u{2028}b",
            rlo = "a\u{202e}b",
            path = r"C:\dir",
            "{}",
            "bell\u{7}\u{202e}"
        );
    });
    let [line] = &lines[..] else {
        panic!("{lines:?}");
    };
    let rest = line.split('\t').nth(3).expect("four columns");
    assert_eq!(
        rest,
        r#""bell\u0007\u202e" esc="\u001b[31mred" nul="a\u0000b" nel="a\u0085b" del="a\u007fb" ls="a\u2028b" rlo="a\u202eb" path=C:\dir"#,
        "a backslash alone needs no quotes: bare text is literal"
    );
}

#[test]
fn text_field_names_stay_one_token_and_never_read_as_the_ids() {
    let lines = capture(LogFormat::Text, |_| {
        info!(
            "two words" = 1,
            "a=b" = 2,
            "tab\there" = 3,
            span_id = "mine",
            "message without ids"
        );
    });
    let rest = lines[0].split('\t').nth(3).expect("four columns");
    assert_eq!(
        rest,
        "message without ids two_words=1 a_b=2 tab_here=3 field.span_id=mine"
    );
}

#[test]
fn json_fields_named_aws_cannot_make_a_line_an_emf_document() {
    let lines = json(&capture(LogFormat::Json, |_| {
        info!(_aws = "{\"CloudWatchMetrics\":[]}", "not metrics");
    }));
    assert!(!lines[0].object.contains_key("_aws"), "{:?}", lines[0]);
    assert_eq!(lines[0]["field._aws"], "{\"CloudWatchMetrics\":[]}");
}

#[test]
fn levels() {
    fn all_levels(_: &SdkTracer) {
        trace!("t");
        debug!("d");
        info!("i");
        warn!("w");
        error!("e");
    }
    const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
    let lines = json(&capture(LogFormat::Json, all_levels));
    let levels: Vec<&str> = lines.iter().filter_map(|l| l["level"].as_str()).collect();
    assert_eq!(levels, LEVELS);
    let lines = capture(LogFormat::Text, all_levels);
    let levels: Vec<String> = lines.iter().map(|l| text(l).level).collect();
    assert_eq!(levels, LEVELS);
}

#[test]
fn log_records_keep_their_level_and_target_and_drop_the_log_fields() {
    // The `log` crate's logger is process-wide: another test may have installed it already
    // (tracing-subscriber's `try_init` does), which routes records here all the same.
    let _ = tracing_log::LogTracer::init();
    fn legacy(_: &SdkTracer) {
        tracing_log::log::warn!(target: "legacy::db", "slow query {}", 42);
    }
    let lines = json(&capture(LogFormat::Json, legacy));
    let [line] = &lines[..] else {
        panic!("{lines:?}");
    };
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "legacy::db");
    assert_eq!(line["message"], "slow query 42");
    assert!(
        !line.keys.iter().any(|k| k.starts_with("log.")),
        "{:?}",
        line.keys
    );

    let lines = capture(LogFormat::Text, legacy);
    let parsed = text(&lines[0]);
    assert_eq!(parsed.level, "WARN");
    assert_eq!(parsed.words, ["slow", "query", "42"]);
    assert!(parsed.fields.is_empty(), "{:?}", parsed.fields);
}

/// A stdout that is gone.
struct Broken;

impl io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

#[test]
fn a_failing_writer_does_not_panic() {
    for format in [LogFormat::Text, LogFormat::Json] {
        let subscriber = tracing_subscriber::registry().with(layer(format, || Broken));
        tracing::subscriber::with_default(subscriber, || info!(roll = 4, "lost"));
    }
}

#[test]
fn opentelemetry_warnings_from_inside_its_context_stack_do_not_panic() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(layer(LogFormat::Json, buffer.clone()));
    tracing::subscriber::with_default(subscriber, || {
        // The stack holds u16::MAX - 1 contexts; the next attach warns while it is borrowed.
        let mut guards: Vec<_> = (0..u16::MAX)
            .map(|_| opentelemetry::Context::new().attach())
            .collect();
        while guards.pop().is_some() {}
    });
    let lines = json(&buffer.lines());
    assert!(lines.iter().any(|l| l["target"] == "opentelemetry"));
}

#[test]
fn only_lambda_runtime_s_error_field_loses_its_quoted_text() {
    let error = serde_json::from_str::<u32>(r#""hunter2""#).expect_err("not a number");
    let lines = json(&capture(LogFormat::Json, |_| {
        error!(target: "lambda_runtime::layers::api_response", error = ?error, detail = "\"kept\"", "deserialization failed");
        error!(error = ?error, "the function's own error");
    }));
    let [runtime, own] = &lines[..] else {
        panic!("{lines:?}");
    };
    assert_eq!(
        runtime["error"],
        "Error(\"invalid type: string \\\"<redacted>\\\", expected u32\", line: 1, column: 9)"
    );
    assert_eq!(runtime["detail"], "\"kept\"", "only the error field");
    assert_eq!(own["error"], format!("{error:?}"));
    assert!(format!("{error:?}").contains("hunter2"));
}
