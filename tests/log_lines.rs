//! The log lines a function writes to stdout (what CloudWatch Logs stores), in both of Lambda's
//! formats. The function runs in a child process (this test binary, running the ignored
//! `function` test) so its real stdout can be read; the child serves its own loopback Runtime
//! API and collector, and prints the ids of its invocation span for the parent to compare.

mod common;

use common::child::run_ignored;
use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use lambda_otel::Exporter;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// Set in the child: the `AWS_LAMBDA_LOG_FORMAT` to run with.
const CHILD_FORMAT: &str = "LAMBDA_OTEL_TEST_LOG_FORMAT";
/// Set in the child: [`SDK_DISABLED`] or [`EXPORTERS_NONE`] instead of exporting every signal.
const CHILD_SETTINGS: &str = "LAMBDA_OTEL_TEST_LOG_SETTINGS";
/// `OTEL_SDK_DISABLED=true`.
const SDK_DISABLED: &str = "sdk-disabled";
/// `none` for the traces, metrics and logs exporters.
const EXPORTERS_NONE: &str = "exporters-none";
/// The child's last line: the invocation span's ids, for the parent.
const IDS_MARKER: &str = "invocation-span-ids";

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info!(player = "Alice", roll = 4, "Alice rolled 4");
    tracing::info_span!("inner").in_scope(|| tracing::warn!(detail = "two words", "slow"));
    Ok(json!({"statusCode": 200, "body": "{}"}))
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "the function of the log line tests, run by them in a child process"]
async fn function() {
    let format = std::env::var(CHILD_FORMAT).expect("run by the log line tests");
    // SAFETY: one test per process, before telemetry reads the environment.
    unsafe { std::env::set_var("AWS_LAMBDA_LOG_FORMAT", format) };
    let settings = std::env::var(CHILD_SETTINGS).unwrap_or_default();
    let invocations = vec![Invocation::new("req-lines", event("apigw-v2-roll.json"))];
    let function = Function::start(invocations, Behaviour::Ok, |b| match &*settings {
        SDK_DISABLED => b.with_sdk_disabled(true),
        EXPORTERS_NONE => b
            .with_traces_exporter(Exporter::None)
            .with_metrics_exporter(Exporter::None)
            .with_logs_exporter(Exporter::None),
        _ => b,
    });
    tracing::info!("before any invocation");
    function.run(handler);
    function.wait_for_next_polls(2).await;
    if !settings.is_empty() {
        // Nothing is exported: no ids to compare.
        return;
    }
    let (_, span) = function.invocation_span("req-lines");
    let (_, inner) = function
        .spans()
        .into_iter()
        .find(|(_, s)| s.name == "inner")
        .expect("the tracing span");
    println!(
        "{IDS_MARKER} {} {} {}",
        span.trace_id, span.span_id, inner.span_id
    );
}

/// The child's stdout lines, and the trace id, invocation span id and inner span id.
fn run_function(format: &str) -> (Vec<String>, [String; 3]) {
    let stdout = run_ignored("function", &[(CHILD_FORMAT, format)]);
    let ids = stdout
        .lines()
        .find_map(|l| l.strip_prefix(IDS_MARKER))
        .unwrap_or_else(|| panic!("no ids in:\n{stdout}"));
    let ids: Vec<String> = ids.split_whitespace().map(str::to_owned).collect();
    let ids: [String; 3] = ids.try_into().expect("three ids");
    // libtest announces the test on the line its output starts on.
    let lines = stdout
        .lines()
        .map(|l| l.trim_start_matches("test function ... ").to_owned())
        .collect();
    (lines, ids)
}

fn line<'a>(lines: &'a [String], needle: &str) -> &'a str {
    let mut found = lines.iter().filter(|l| l.contains(needle));
    match (found.next(), found.next()) {
        (Some(line), None) => line,
        _ => panic!(
            "not exactly one line with {needle:?} in:\n{}",
            lines.join("\n")
        ),
    }
}

#[test]
fn json_lines_carry_the_request_id_and_the_ids_of_the_span() {
    let (lines, [trace_id, span_id, inner_id]) = run_function("JSON");
    let parse = |needle: &str| -> Value {
        let line = line(&lines, needle);
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{needle}: {e}: {line}"))
    };

    let rolled = parse("Alice rolled 4");
    assert_eq!(rolled["level"], "INFO");
    assert_eq!(rolled["message"], "Alice rolled 4");
    assert_eq!(rolled["requestId"], "req-lines");
    assert_eq!(rolled["trace_id"], trace_id.as_str());
    assert_eq!(rolled["span_id"], span_id.as_str());
    assert_eq!(rolled["player"], "Alice");
    assert_eq!(rolled["roll"], 4, "numbers stay numbers");
    assert!(
        rolled["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let slow = parse("\"slow\"");
    assert_eq!(slow["level"], "WARN");
    assert_eq!(slow["span_id"], inner_id.as_str(), "the innermost span");
    assert_eq!(slow["trace_id"], trace_id.as_str());
    assert_eq!(slow["requestId"], "req-lines");

    let before = parse("before any invocation");
    assert!(before.get("requestId").is_none() && before.get("trace_id").is_none());
}

#[test]
fn text_lines_are_tab_separated_with_the_ids_last() {
    let (lines, [trace_id, span_id, inner_id]) = run_function("Text");

    let rolled: Vec<&str> = line(&lines, "Alice rolled 4").split('\t').collect();
    let [time, request_id, level, message] = rolled.as_slice() else {
        panic!("four columns: {rolled:?}")
    };
    assert!(time.ends_with('Z'), "{time}");
    assert_eq!(*request_id, "req-lines");
    assert_eq!(*level, "INFO");
    assert_eq!(
        *message,
        format!("Alice rolled 4 player=Alice roll=4 trace_id={trace_id} span_id={span_id}")
    );

    let slow = line(&lines, "\tslow");
    assert!(
        slow.ends_with(&format!(
            "\tWARN\tslow detail=\"two words\" trace_id={trace_id} span_id={inner_id}"
        )),
        "{slow}"
    );

    let before: Vec<&str> = line(&lines, "before any invocation").split('\t').collect();
    assert_eq!(before[1], "-", "no request id outside an invocation");
    assert!(!before[3].contains("trace_id="), "{before:?}");
}

/// The child's stdout lines with `settings` (nothing exported).
fn run_function_with(format: &str, settings: &str) -> Vec<String> {
    let stdout = run_ignored(
        "function",
        &[(CHILD_FORMAT, format), (CHILD_SETTINGS, settings)],
    );
    stdout
        .lines()
        .map(|l| l.trim_start_matches("test function ... ").to_owned())
        .collect()
}

/// Lines logged in an invocation carry its request id whatever the SDK exports, even when it
/// is off: the request id is Lambda's, not OpenTelemetry's.
#[test]
fn with_the_sdk_disabled_lines_still_carry_the_request_id() {
    let lines = run_function_with("Text", SDK_DISABLED);
    for needle in ["Alice rolled 4", "\tslow"] {
        let columns: Vec<&str> = line(&lines, needle).split('\t').collect();
        assert_eq!(columns[1], "req-lines", "{columns:?}");
        assert!(
            !columns[3].contains("trace_id="),
            "no trace, no trace id: {columns:?}"
        );
    }
    let before: Vec<&str> = line(&lines, "before any invocation").split('\t').collect();
    assert_eq!(before[1], "-", "no request id outside an invocation");

    let lines = run_function_with("JSON", SDK_DISABLED);
    let rolled: Value = serde_json::from_str(line(&lines, "Alice rolled 4")).expect("JSON");
    assert_eq!(rolled["requestId"], "req-lines", "{rolled}");
    assert!(rolled.get("trace_id").is_none(), "{rolled}");
}

#[test]
fn with_every_exporter_none_lines_still_carry_the_request_id() {
    let lines = run_function_with("Text", EXPORTERS_NONE);
    for needle in ["Alice rolled 4", "\tslow"] {
        let columns: Vec<&str> = line(&lines, needle).split('\t').collect();
        assert_eq!(columns[1], "req-lines", "{columns:?}");
    }
    let lines = run_function_with("JSON", EXPORTERS_NONE);
    let rolled: Value = serde_json::from_str(line(&lines, "Alice rolled 4")).expect("JSON");
    assert_eq!(rolled["requestId"], "req-lines", "{rolled}");
}
