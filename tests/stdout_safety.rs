//! What hostile input and a verbose level cannot do to stdout (what CloudWatch Logs stores) and
//! to the exported log records: forge a line, a column or an id, shadow the crate's JSON keys,
//! or bring the raw event (an `Authorization` header, a secret in the body) out through
//! lambda_runtime's TRACE events, nor a value of an event that does not deserialize out through
//! lambda_runtime's error about it. The function runs in a child process (this test binary,
//! running the ignored `function` test) so its real stdout can be read, as in `log_lines.rs`.

mod common;

use common::child::run_ignored;
use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};

/// Set in the child: which case to run (see [`Case`]).
const CHILD_CASE: &str = "LAMBDA_OTEL_TEST_STDOUT_CASE";
/// The child's last line: the invocation span's trace and span ids, for the parent.
const IDS_MARKER: &str = "invocation-span-ids";
/// Found in every line the handler logs, to pick them out of stdout.
const MARK: &str = "handler-says";
/// A message built to forge a column, a line, a level and the ids of a Text line.
const FORGED: &str = "handler-says ok\tERROR\tforged\r\n2026-11-21T10:00:00.000000Z\t-\tINFO\tx \
    trace_id=ffffffffffffffffffffffffffffffff span_id=ffffffffffffffff";
const FAKE_TRACE_ID: &str = "ffffffffffffffffffffffffffffffff";
/// What the caller sent and nobody may read in the logs.
const SECRET_HEADER: &str = "Bearer header-secret-4f1c9a";
const SECRET_BODY: &str = "body-secret-8e27d3";
/// A value sent where the handler's type wants a number.
const SECRET_COUNT: &str = "hunter2-secret";
/// The start of lambda_runtime's message when the event does not deserialize.
const DESERIALIZATION_FAILED: &str = "Request payload deserialization into LambdaEvent<T> failed";

#[derive(Clone, Copy)]
enum Case {
    /// Text lines; the handler logs a message and a field copied from the event.
    TextForgery,
    /// JSON lines; the handler logs fields named like the line's own keys.
    JsonKeys,
    /// `RUST_LOG=trace`, an event carrying a secret header and body.
    Trace,
    /// A handler typed on [`Roll`], an event whose `count` is a secret string.
    Deserialization,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::TextForgery => "text-forgery",
            Case::JsonKeys => "json-keys",
            Case::Trace => "trace",
            Case::Deserialization => "deserialization",
        }
    }

    fn from_name(name: &str) -> Self {
        [
            Case::TextForgery,
            Case::JsonKeys,
            Case::Trace,
            Case::Deserialization,
        ]
        .into_iter()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("unknown case {name}"))
    }

    /// The environment the case runs with, set before telemetry reads it.
    fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Case::TextForgery => &[("AWS_LAMBDA_LOG_FORMAT", "Text")],
            Case::JsonKeys => &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
            Case::Trace => &[("AWS_LAMBDA_LOG_FORMAT", "Text"), ("RUST_LOG", "trace")],
            Case::Deserialization => &[("AWS_LAMBDA_LOG_FORMAT", "Text")],
        }
    }
}

/// An API Gateway event whose `Authorization` header and body carry secrets, and whose body
/// is the forged message.
fn hostile_event() -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&event("apigw-v2-roll.json")).expect("JSON");
    event["headers"]["authorization"] = json!(SECRET_HEADER);
    event["body"] = json!(json!({"player": FORGED, "password": SECRET_BODY}).to_string());
    serde_json::to_vec(&event).expect("JSON")
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let body: Value = serde_json::from_str(event.payload["body"].as_str().unwrap_or("{}"))?;
    let player = body["player"].as_str().unwrap_or_default();
    match Case::from_name(&std::env::var(CHILD_CASE)?) {
        Case::TextForgery => tracing::info!(player, "{player}"),
        Case::JsonKeys => tracing::info!(
            requestId = "forged-request-id",
            trace_id = FAKE_TRACE_ID,
            span_id = "ffffffffffffffff",
            level = "ERROR",
            timestamp = "2026-11-21T10:00:00.000000Z",
            target = "forged",
            _aws = r#"{"Timestamp":0,"CloudWatchMetrics":[]}"#,
            "{MARK} fields named like the line's keys"
        ),
        Case::Trace => tracing::info!("{MARK} at trace level"),
        Case::Deserialization => unreachable!("the typed handler runs"),
    }
    Ok(json!({"statusCode": 200, "body": "{}"}))
}

/// What the typed handler of [`Case::Deserialization`] takes.
#[derive(serde::Deserialize)]
struct Roll {
    count: u32,
}

async fn typed_handler(event: LambdaEvent<Roll>) -> Result<Value, Error> {
    tracing::info!("{MARK} {} dice", event.payload.count);
    Ok(json!({}))
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "the function of the stdout safety tests, run by them in a child process"]
async fn function() {
    let case = Case::from_name(&std::env::var(CHILD_CASE).expect("run by the stdout tests"));
    for (key, value) in case.env() {
        // SAFETY: one test per process, before telemetry reads the environment.
        unsafe { std::env::set_var(key, value) };
    }
    let event = match case {
        Case::Deserialization => json!({"count": SECRET_COUNT}).to_string().into_bytes(),
        _ => hostile_event(),
    };
    let invocations = vec![Invocation::new("req-safety", event)];
    let function = Function::start(invocations, Behaviour::Ok, |b| b);
    if let Case::Deserialization = case {
        let otel = function.telemetry.layer();
        let runtime = Runtime::new(otel.wrap(service_fn(typed_handler))).layer(otel);
        tokio::spawn(runtime.run());
    } else {
        function.run(handler);
    }
    function.wait_for_next_polls(2).await;
    let (_, span) = function.invocation_span("req-safety");

    // The exported log records are checked here, where the receiver is.
    let records: Vec<_> = function
        .timeline
        .events()
        .iter()
        .flat_map(|e| e.exported_logs().to_vec())
        .collect();
    let handled = records
        .iter()
        .any(|r| r.body_str().is_some_and(|b| b.contains(MARK)));
    // Without the `logs` feature there are no log records, only the lines checked below.
    let expected = cfg!(feature = "logs") && !matches!(case, Case::Deserialization);
    assert_eq!(
        handled, expected,
        "the handler's record is exported when it runs: {records:#?}"
    );
    for record in &records {
        let record = format!("{record:?}");
        for secret in [SECRET_HEADER, SECRET_BODY, SECRET_COUNT] {
            assert!(
                !record.contains(secret),
                "{secret} in a log record: {record}"
            );
        }
    }
    println!("{IDS_MARKER} {} {}", span.trace_id, span.span_id);
}

/// The child's stdout lines, and the invocation span's trace id and span id.
fn run_function(case: Case) -> (Vec<String>, [String; 2]) {
    let stdout = run_ignored("function", &[(CHILD_CASE, case.name())]);
    let ids = stdout
        .lines()
        .find_map(|l| l.strip_prefix(IDS_MARKER))
        .unwrap_or_else(|| panic!("no ids in:\n{stdout}"));
    let ids: Vec<String> = ids.split_whitespace().map(str::to_owned).collect();
    let ids: [String; 2] = ids.try_into().expect("two ids");
    // libtest announces the test on the line its output starts on.
    let lines = stdout
        .lines()
        .map(|l| l.trim_start_matches("test function ... ").to_owned())
        .collect();
    (lines, ids)
}

/// `line` without its JSON-string-quoted parts (a `\` escapes the next character inside).
fn outside_quotes(line: &str) -> String {
    let (mut out, mut quoted, mut escaped) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if !quoted => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn a_text_message_cannot_forge_lines_columns_or_ids() {
    let (lines, [trace_id, span_id]) = run_function(Case::TextForgery);
    let marked: Vec<&String> = lines.iter().filter(|l| l.contains(MARK)).collect();
    let [line] = marked[..] else {
        panic!("one event, one line:\n{}", lines.join("\n"));
    };
    let columns: Vec<&str> = line.split('\t').collect();
    let [_, request_id, level, rest] = columns[..] else {
        panic!("four columns: {columns:?}");
    };
    assert_eq!((request_id, level), ("req-safety", "INFO"));
    assert!(!line.contains('\r'), "{line:?}");
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("2026-11-21T10:00:00.000000Z")),
        "no forged line:\n{}",
        lines.join("\n")
    );
    assert!(
        rest.ends_with(&format!(" trace_id={trace_id} span_id={span_id}")),
        "the real ids end the line: {rest}"
    );
    let bare = outside_quotes(rest);
    assert_eq!(
        bare.matches("trace_id=").count(),
        1,
        "the forged ids are quoted text: {rest}"
    );
    assert!(!bare.contains(FAKE_TRACE_ID), "{rest}");
}

/// A JSON line's entries in order, duplicates kept (a `Map` would keep one of them).
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[test]
fn json_fields_cannot_shadow_the_line_s_own_keys() {
    let (lines, [trace_id, span_id]) = run_function(Case::JsonKeys);
    let marked: Vec<&String> = lines.iter().filter(|l| l.contains(MARK)).collect();
    let [line] = marked[..] else {
        panic!("one event, one line:\n{}", lines.join("\n"));
    };
    let Entries(entries) = serde_json::from_str(line).expect("a JSON object");
    let values = |key: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(values("requestId"), [&json!("req-safety")], "{line}");
    assert_eq!(values("trace_id"), [&json!(trace_id)], "{line}");
    assert_eq!(values("span_id"), [&json!(span_id)], "{line}");
    assert_eq!(values("level"), [&json!("INFO")], "{line}");
    assert_eq!(values("target"), [&json!("stdout_safety")], "{line}");
    assert_eq!(values("timestamp").len(), 1, "{line}");
    assert!(values("_aws").is_empty(), "not an EMF document: {line}");
    assert_eq!(values("field.trace_id"), [&json!(FAKE_TRACE_ID)], "{line}");
    assert_eq!(values("field.requestId"), [&json!("forged-request-id")]);
    assert_eq!(
        values("field._aws"),
        [&json!(r#"{"Timestamp":0,"CloudWatchMetrics":[]}"#)]
    );
}

#[test]
fn at_trace_level_the_raw_event_never_reaches_stdout_nor_log_records() {
    // The child fails if a secret is in an exported log record.
    let (lines, _) = run_function(Case::Trace);
    let all = lines.join("\n");
    for secret in [SECRET_HEADER, SECRET_BODY] {
        assert!(!all.contains(secret), "{secret} on stdout:\n{all}");
    }
    assert!(
        lines.iter().any(|l| l.contains(MARK)),
        "the handler's line:\n{all}"
    );
    // lambda_runtime's other TRACE events still come through.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\tTRACE\tWaiting for next event (incoming loop)")),
        "lambda_runtime's own trace lines:\n{all}"
    );
}

/// lambda_runtime's error names the serde error (kind, line, column) but quotes no value of the
/// event: `invalid type: string "hunter2-secret", expected u32` would put the value in
/// CloudWatch Logs.
#[test]
fn an_event_that_does_not_deserialize_is_reported_without_its_values() {
    let (lines, _) = run_function(Case::Deserialization);
    let all = lines.join("\n");
    assert!(
        !all.contains(SECRET_COUNT),
        "{SECRET_COUNT} on stdout:\n{all}"
    );
    assert!(!all.contains(MARK), "the handler never ran:\n{all}");
    let reported: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(DESERIALIZATION_FAILED))
        .collect();
    let [line] = reported[..] else {
        panic!("one line about the event:\n{all}");
    };
    let columns: Vec<&str> = line.split('\t').collect();
    let [_, request_id, level, rest] = columns[..] else {
        panic!("four columns: {columns:?}");
    };
    assert_eq!((request_id, level), ("req-safety", "ERROR"), "{line}");
    // The `error` value is written as a JSON string: its quotes come escaped once more.
    for kept in [
        r#"invalid type: string \\\"<redacted>\\\", expected u32"#,
        "line: 1, column: ",
        r#"Map { key: \"<redacted>\" }"#,
    ] {
        assert!(rest.contains(kept), "{kept} in {rest}");
    }
}
