//! Lambda's shutdown (SIGTERM): what is still buffered is exported, then the provider stops;
//! with a collector that never answers, shutdown returns and counts every signal's losses.

mod common;

use common::child::{ignored_test, run_ignored};
use common::function::Function;
use common::otlp::{Behaviour, OtlpReceiver};
use common::runtime_api::Invocation;
use common::timeline::{Timeline, TimelineEvent};
use lambda_runtime::{Error, LambdaEvent};
use opentelemetry::trace::{Tracer, TracerProvider as _};
use serde_json::{Value, json};
use std::sync::Mutex;
use tokio::sync::oneshot;

#[tokio::test(flavor = "current_thread")]
async fn shutdown_exports_what_is_buffered() {
    let function = Function::start(Vec::new(), Behaviour::Ok, |b| b);
    let provider = function
        .telemetry
        .tracer_provider()
        .expect("enabled")
        .clone();
    // A span ended outside any invocation (at init, say) waits in the buffer for a flush.
    provider.tracer("init").in_span("warm-up", |_| ());
    assert_eq!(
        function.receiver.requests(),
        0,
        "nothing exported before the flush"
    );

    function.telemetry.shutdown().await;

    let spans = function.receiver.spans();
    assert!(spans.iter().any(|s| s.name == "warm-up"), "{spans:?}");
}

/// What the child prints once `shutdown` has returned.
const RETURNED_MARKER: &str = "shutdown-returned";
/// What the child prints just before it calls `shutdown`.
const SHUTTING_DOWN_MARKER: &str = "shutting-down";

/// When the work left behind may run, and when it has.
type Signals = (oneshot::Receiver<()>, oneshot::Sender<()>);

/// The handler: answers at once and leaves work running behind it, which ends a span, writes a
/// log record and adds to a counter only when `go` says so (after the invocation's flush).
fn leaves_work_behind(
    signals: Signals,
) -> impl Fn(LambdaEvent<Value>) -> std::future::Ready<Result<Value, Error>> + Send + 'static {
    let signals = Mutex::new(Some(signals));
    move |_| {
        let (go, done) = signals
            .lock()
            .expect("lock")
            .take()
            .expect("one invocation");
        tokio::spawn(async move {
            go.await.expect("the test says go");
            tracing::info_span!("background").in_scope(|| {
                tracing::info!("background work done");
            });
            opentelemetry::global::meter("background")
                .u64_counter("background.jobs")
                .build()
                .add(1, &[]);
            done.send(()).expect("the test waits");
        });
        std::future::ready(Ok(json!({"ok": true})))
    }
}

/// The function of the hung-collector test, run by it in a child process so its stdout (where
/// the loss reports go) can be read.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by a_hung_collector_at_shutdown_counts_the_losses_of_every_signal"]
async fn hung_collector_function() {
    let invocations = vec![Invocation::new("leaves-work", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::NeverAnswer, |b| b);
    let (go, go_rx) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    function.run(leaves_work_behind((go_rx, done_tx)));
    // The invocation's own flush is over (cut off by the flush timeout: the collector never
    // answers) when the runtime asks for the next event.
    function.wait_for_next_polls(2).await;
    go.send(()).expect("the work waits");
    done.await.expect("the work ran");
    // Spans, log records and metrics are all buffered now, and all go to a collector that
    // never answers.
    println!("{SHUTTING_DOWN_MARKER}");
    function.telemetry.shutdown().await;
    println!("{RETURNED_MARKER}");
}

/// The `name=` value of a log line, 0 when it has none.
fn field(line: &str, name: &str) -> usize {
    common::child::count(line, name).unwrap_or(0)
}

#[cfg(all(feature = "metrics", feature = "logs"))]
#[test]
fn a_hung_collector_at_shutdown_counts_the_losses_of_every_signal() {
    let stdout = run_ignored("hung_collector_function", &[]);
    let lines: Vec<&str> = stdout.lines().collect();
    let at = |marker: &str| {
        lines
            .iter()
            .position(|l| l.trim() == marker)
            .unwrap_or_else(|| panic!("no {marker} in:\n{stdout}"))
    };
    // It returned, with every signal pending and the collector hung.
    let (shutting_down, returned) = (at(SHUTTING_DOWN_MARKER), at(RETURNED_MARKER));
    let shutdown = &lines[shutting_down..returned];
    let [report] = shutdown
        .iter()
        .filter(|l| l.contains("at shutdown"))
        .collect::<Vec<_>>()[..]
    else {
        panic!("one final report during shutdown in:\n{stdout}")
    };
    // The invocation's flush warned already: within the quiet period, everything the shutdown
    // lost is in the final report, every signal, not only the first one.
    for name in ["lost_spans", "lost_log_records", "lost_metric_exports"] {
        assert!(field(report, name) > 0, "{name} in {report}\n{stdout}");
    }
    // And it is counted once: over every message of the process, exactly what never got an
    // answer. Spans: the invocation's and the background one. Metric exports: the
    // invocation's flush and the shutdown.
    let total = |name: &str| lines.iter().map(|l| field(l, name)).sum::<usize>();
    assert_eq!(total("lost_spans"), 2, "{stdout}");
    assert_eq!(total("lost_metric_exports"), 2, "{stdout}");
    assert!(total("lost_log_records") >= 1, "{stdout}");
}

/// The function of the background-export test, in a child process (see below).
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by background_exports_under_way_at_shutdown_are_counted"]
async fn background_export_at_shutdown_function() {
    // A second away, so the invocation's own flush (the collector never answers) is short,
    // while the background export's deadline is the 60 s flush timeout: only the shutdown can
    // end it.
    let deadline_ms = u64::try_from(
        (std::time::SystemTime::now() + std::time::Duration::from_secs(1))
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("fits");
    let invocations =
        vec![Invocation::new("leaves-work", br#"{}"#.to_vec()).with_deadline_ms(deadline_ms)];
    let function = Function::start(invocations, Behaviour::NeverAnswer, |b| {
        b.with_flush_timeout(std::time::Duration::from_secs(60))
            .with_metrics_exporter(lambda_otel::Exporter::None)
            .with_logs_exporter(lambda_otel::Exporter::None)
    });
    function.run(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({"ok": true})) });
    function.wait_for_next_polls(2).await;
    // 512 spans after the flush: the buffer hands them to a background export at once, and
    // holds nothing for the shutdown to export.
    for i in 0..512 {
        tracing::info_span!("late", i).in_scope(|| ());
    }
    function.telemetry.shutdown().await;
    println!("{RETURNED_MARKER}");
}

#[test]
fn background_exports_under_way_at_shutdown_are_counted() {
    let stdout = run_ignored("background_export_at_shutdown_function", &[]);
    assert!(stdout.contains(RETURNED_MARKER), "{stdout}");
    let lost: usize = stdout.lines().map(|l| field(l, "lost_spans")).sum();
    // The invocation span, lost by the invocation's flush, and the 512 of the background
    // export that the shutdown cut off.
    assert_eq!(lost, 513, "{stdout}");
}

/// Where the SIGTERM test's child exports: the parent's receiver, which outlives it.
const ENDPOINT_VAR: &str = "LAMBDA_OTEL_TEST_PARENT_ENDPOINT";
/// What the child prints before it sends itself SIGTERM.
const SIGTERM_MARKER: &str = "sending-sigterm";

/// The function of the SIGTERM test, in a child process: it asks for SIGTERM, serves one
/// invocation, leaves a span for the shutdown to export, and sends itself SIGTERM.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by sigterm_exports_what_is_left_and_exits"]
async fn sigterm_function() {
    let endpoint = std::env::var(ENDPOINT_VAR).expect("the parent's receiver");
    let invocations = vec![Invocation::new("only", br#"{}"#.to_vec())];
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        b.with_otlp_endpoint(endpoint)
    });
    assert!(function.telemetry.shutdown_on_sigterm().await, "registered");
    function.run(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({"ok": true})) });
    // Init ends, and the invocation is handed out, only once the internal extension has
    // called its `/next` too.
    function.wait_for_next_polls(2).await;
    let registered: Vec<_> = function
        .timeline
        .events()
        .into_iter()
        .filter_map(|event| match event {
            TimelineEvent::ExtensionRegistered { name, events } => Some((name, events)),
            _ => None,
        })
        .collect();
    assert_eq!(
        registered,
        [("lambda-otel-sigterm".to_owned(), Vec::<String>::new())],
        "one internal extension, for no events"
    );
    // Ended after the invocation's flush: only the shutdown exports it.
    let provider = function
        .telemetry
        .tracer_provider()
        .expect("enabled")
        .clone();
    provider.tracer("late").in_span("left-for-shutdown", |_| ());
    // The handler exits the process once the shutdown is over, within its 400 ms budget.
    sigterm_this_process("still running 10 s after SIGTERM").await;
}

/// Prints the marker and sends this process SIGTERM, then waits for it to end: a bound for
/// the test (panicking with `otherwise`), should it not.
async fn sigterm_this_process(otherwise: &str) {
    println!("{SIGTERM_MARKER}");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    panic!("{otherwise}");
}

#[test]
fn sigterm_exports_what_is_left_and_exits() {
    let receiver = OtlpReceiver::start(Timeline::new(), Behaviour::Ok);
    let endpoint = receiver.endpoint();
    // Exit status 0 (checked here): the handler's exit, not the signal's default (death).
    let stdout = run_ignored("sigterm_function", &[(ENDPOINT_VAR, &endpoint)]);
    assert!(stdout.contains(SIGTERM_MARKER), "{stdout}");
    let names: Vec<String> = receiver.spans().into_iter().map(|s| s.name).collect();
    assert!(
        names.iter().any(|n| n == "left-for-shutdown"),
        "exported at SIGTERM: {names:?}"
    );
}

/// The function of the failed-registration test, in a child process: no Runtime API, so
/// `shutdown_on_sigterm` installs nothing; then it sends itself SIGTERM.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by a_failed_registration_leaves_sigterm_its_default_action"]
async fn unregistered_function() {
    assert!(std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none());
    let telemetry = lambda_otel::Telemetry::builder()
        .with_traces_exporter(lambda_otel::Exporter::None)
        .build()
        .expect("telemetry");
    assert!(!telemetry.shutdown_on_sigterm().await, "not on Lambda");
    // SIGTERM's default action ends the process.
    sigterm_this_process("still running 10 s after SIGTERM: the signal was caught").await;
}

#[test]
fn a_failed_registration_leaves_sigterm_its_default_action() {
    use std::os::unix::process::ExitStatusExt as _;
    let output = ignored_test("unregistered_function")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains(SIGTERM_MARKER), "{stdout}\n{stderr}");
    assert_eq!(output.status.signal(), Some(15), "{stdout}\n{stderr}");
    assert!(stderr.contains("no flush at shutdown"), "{stderr}");
}
