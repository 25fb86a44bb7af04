//! The deadline guard: an invocation whose handler still runs when only the flush's bound (the
//! flush timeout, 200 ms by default, and a 50 ms margin) is left before its deadline ends its
//! span as timed out (`error.type=timeout`, status Error) and flushes it with everything else
//! the invocation recorded so far, the mark to the lambda-otel extension included, before
//! Lambda stops the process at the deadline.
//!
//! Nothing here waits for time to pass: a handler that never completes is guarded or the test
//! fails (the harness gives up after 30 s); "nothing happened" is read at a later guard's span,
//! which comes after every earlier guard would have rung.

mod common;

use common::function::Function;
use common::otlp::{Behaviour, ReceivedSpan};
use common::runtime_api::Invocation;
use common::timeline::TimelineEvent;
use lambda_otel::FlushMode;
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// The deadline of an invocation `ms` from now, in epoch milliseconds. Deadlines are set when
/// a test builds its invocations; 2 s leaves far more than the harness needs to start and hand
/// an invocation out before its guard's instant, 250 ms before the deadline.
fn due_in(ms: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    u64::try_from(now).expect("fits") + ms
}

fn invocation(id: &str, due_in_ms: u64) -> Invocation {
    Invocation::new(id, br#"{}"#.to_vec()).with_deadline_ms(due_in(due_in_ms))
}

fn has_span_of(events: &[TimelineEvent], id: &str) -> bool {
    events
        .iter()
        .flat_map(TimelineEvent::exported_spans)
        .any(|s| s.attr_str("faas.invocation_id") == Some(id))
}

/// Waits, off the executor (the function may run on this very thread), until `pred` holds.
async fn wait(
    function: &Function,
    what: &str,
    pred: impl Fn(&[TimelineEvent]) -> bool + Send + 'static,
) -> Vec<TimelineEvent> {
    let timeline = function.timeline.clone();
    let what = what.to_owned();
    tokio::task::spawn_blocking(move || timeline.wait_for(pred, &what))
        .await
        .expect("the wait panicked")
}

async fn wait_for_span_of(function: &Function, id: &'static str) -> Vec<TimelineEvent> {
    wait(function, &format!("{id}'s span"), move |events| {
        has_span_of(events, id)
    })
    .await
}

fn assert_timed_out(span: &ReceivedSpan, function: &Function) {
    let timeline = function.timeline.describe();
    assert_eq!(span.attr_str("error.type"), Some("timeout"), "{timeline}");
    assert_eq!(span.status_code, 2, "status Error:\n{timeline}");
    assert!(
        span.status_message.contains("still running")
            && span
                .status_message
                .contains("before the invocation's deadline"),
        "{}",
        span.status_message
    );
}

fn assert_no_error(span: &ReceivedSpan, function: &Function) {
    let timeline = function.timeline.describe();
    assert_eq!(span.attr_str("error.type"), None, "{timeline}");
    assert_eq!(span.status_code, 0, "status unset:\n{timeline}");
}

fn marks_for(function: &Function, id: &str) -> usize {
    function
        .timeline
        .events()
        .iter()
        .filter(|e| e.is_mark_for(id))
        .count()
}

/// The value of the sum `name` in the last metrics export, 0 when it has none.
#[cfg(all(feature = "metrics", feature = "logs"))]
fn last_sum(events: &[TimelineEvent], name: &str) -> i64 {
    let last = events
        .iter()
        .rev()
        .find(|e| matches!(e, TimelineEvent::MetricsExported { .. }))
        .expect("a metrics export");
    last.exported_metrics()
        .iter()
        .find(|m| m.name == name)
        .map_or(0, |m| {
            m.sum_points().iter().filter_map(|p| p.value.as_int()).sum()
        })
}

/// Records a child span and a log record, then never completes.
async fn works_then_hangs(_: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info_span!("work").in_scope(|| tracing::info!("working"));
    std::future::pending().await
}

#[cfg(all(feature = "metrics", feature = "logs"))]
#[tokio::test(flavor = "current_thread")]
async fn a_handler_that_never_completes_leaves_a_timeout_span_with_its_telemetry_so_far() {
    let function = Function::start(vec![invocation("stuck", 2_000)], Behaviour::Ok, |b| b);
    function.run(works_then_hangs);
    let events = wait(&function, "the span, the log and the metrics", |events| {
        has_span_of(events, "stuck")
            && events.iter().any(|e| !e.exported_logs().is_empty())
            && events
                .iter()
                .any(|e| matches!(e, TimelineEvent::MetricsExported { .. }))
    })
    .await;
    let (at, span) = function.invocation_span("stuck");
    assert_timed_out(&span, &function);
    let timeline = function.timeline.describe();
    let work = events[at]
        .exported_spans()
        .iter()
        .find(|s| s.name == "work")
        .unwrap_or_else(|| panic!("the child span in the same export:\n{timeline}"));
    assert_eq!(work.parent_span_id, span.span_id);
    let log = events
        .iter()
        .flat_map(TimelineEvent::exported_logs)
        .find(|l| l.body_str() == Some("working"))
        .unwrap_or_else(|| panic!("the log record:\n{timeline}"));
    assert_eq!(log.span_id, work.span_id);
    assert_eq!(last_sum(&events, "faas.invocations"), 1, "{timeline}");
    assert_eq!(last_sum(&events, "faas.errors"), 1, "a timeout is an error");
    assert!(
        !events.iter().any(|e| e.is_outcome_for("stuck")),
        "the handler never answered:\n{timeline}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_extension_the_guard_s_flush_marks_the_invocation_once() {
    let function = Function::start(
        vec![invocation("stuck", 2_000)],
        Behaviour::Extension,
        |b| b,
    );
    function.run(works_then_hangs);
    wait(&function, "the mark", |events| {
        events.iter().any(|e| e.is_mark_for("stuck"))
    })
    .await;
    let (at, span) = function.invocation_span("stuck");
    assert_timed_out(&span, &function);
    let mark = function.position(|e| e.is_mark_for("stuck"), "the mark");
    assert!(at < mark, "{}", function.timeline.describe());
    assert_eq!(marks_for(&function, "stuck"), 1);
    assert_eq!(function.receiver.unknown_requests(), Vec::<String>::new());
}

/// `late` waits for the test to release it, then records a child span and answers; `next`
/// answers at once.
fn late_then_next(
    release: Arc<Notify>,
) -> impl Fn(LambdaEvent<Value>) -> futures_util::future::BoxFuture<'static, Result<Value, Error>>
+ Send
+ 'static {
    move |event| {
        let release = Arc::clone(&release);
        Box::pin(async move {
            let id = event.context.request_id;
            if id == "late" {
                release.notified().await;
                tracing::info_span!("late-work").in_scope(|| ());
            }
            Ok(json!({ "id": id }))
        })
    }
}

/// `late` is guarded (its span and the mark go out), then released: it answers after all.
/// Its response is posted, it has one span only (the guard's) and one mark; what it recorded
/// after the guard goes out with the next flush, `next`'s, before the runtime's third `/next`.
async fn finishing_after_the_guard(mode: FlushMode) {
    let invocations = vec![
        invocation("late", 2_000),
        Invocation::new("next", br#"{}"#.to_vec()),
    ];
    let function = Function::start(invocations, Behaviour::Extension, |b| {
        b.with_flush_mode(mode)
    });
    let release = Arc::new(Notify::new());
    function.run(late_then_next(Arc::clone(&release)));
    wait(&function, "late's span and mark", |events| {
        has_span_of(events, "late") && events.iter().any(|e| e.is_mark_for("late"))
    })
    .await;
    release.notify_one();
    let events = function.wait_for_next_polls(3).await;
    let timeline = function.timeline.describe();
    let (_, late) = function.invocation_span("late");
    assert_timed_out(&late, &function);
    let response = events
        .iter()
        .find_map(|e| match e {
            TimelineEvent::ResponsePosted { request_id, body } if request_id == "late" => {
                Some(body)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("late's response:\n{timeline}"));
    assert_eq!(
        serde_json::from_slice::<Value>(response).expect("JSON"),
        json!({"id": "late"})
    );
    assert_eq!(marks_for(&function, "late"), 1, "{timeline}");
    assert_eq!(marks_for(&function, "next"), 1, "{timeline}");
    let (_, next) = function.invocation_span("next");
    assert_no_error(&next, &function);
    let late_work = function.position(
        |e| e.exported_spans().iter().any(|s| s.name == "late-work"),
        "the span late recorded after its guard",
    );
    let second = function.position(|e| e.is_next_poll(2), "the second poll");
    let third = function.position(|e| e.is_next_poll(3), "the third poll");
    assert!(second < late_work && late_work < third, "{timeline}");
    let late_work: Vec<&ReceivedSpan> = events
        .iter()
        .flat_map(TimelineEvent::exported_spans)
        .filter(|s| s.name == "late-work")
        .collect();
    assert_eq!(late_work.len(), 1, "{timeline}");
    assert_eq!(late_work[0].parent_span_id, late.span_id);
}

#[tokio::test(flavor = "current_thread")]
async fn after_response_a_handler_that_answers_after_the_guard_gives_one_span_and_its_response() {
    finishing_after_the_guard(FlushMode::AfterResponse).await;
}

#[tokio::test(flavor = "current_thread")]
async fn before_response_a_handler_that_answers_after_the_guard_gives_one_span_and_its_response() {
    finishing_after_the_guard(FlushMode::BeforeResponse).await;
}

/// `quick` answers at once, `stuck` never does; `stuck` is due a second after `quick`, so its
/// guard rings a second after `quick`'s would have.
async fn quick_then_stuck(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.context.request_id == "stuck" {
        std::future::pending::<()>().await;
    }
    Ok(json!({"ok": true}))
}

#[tokio::test(flavor = "current_thread")]
async fn an_invocation_that_ends_in_time_leaves_no_trace_of_its_guard() {
    let invocations = vec![invocation("quick", 2_000), invocation("stuck", 3_000)];
    let function = Function::start(invocations, Behaviour::Extension, |b| b);
    function.run(quick_then_stuck);
    wait_for_span_of(&function, "stuck").await;
    let (_, stuck) = function.invocation_span("stuck");
    assert_timed_out(&stuck, &function);
    // One span, without error, and one mark: `quick`'s guard, past its instant by now, did not
    // ring.
    let (_, quick) = function.invocation_span("quick");
    assert_no_error(&quick, &function);
    assert_eq!(marks_for(&function, "quick"), 1);
}

/// With a 10 s flush timeout, `close` (due in 5 s) is inside the flush's bound from the start:
/// no guard. `stuck` (due in 12 s) is guarded, its alarm 10.05 s before its deadline. Side by
/// side (`run_concurrent`), `close` waits until `stuck`'s span is out: a guard for `close`
/// would have rung long before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_too_close_for_a_flush_arms_no_guard_side_by_side() {
    let invocations = vec![invocation("close", 5_000), invocation("stuck", 12_000)];
    // SAFETY: one test per process (cargo-nextest), before the runtime reads its config.
    unsafe { std::env::set_var("AWS_LAMBDA_MAX_CONCURRENCY", "2") };
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        b.with_flush_timeout(Duration::from_secs(10))
    });
    let release = Arc::new(Notify::new());
    let released = Arc::clone(&release);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let release = Arc::clone(&released);
        async move {
            match event.context.request_id.as_str() {
                "close" => release.notified().await,
                _ => std::future::pending().await,
            }
            Ok::<_, Error>(json!({"ok": true}))
        }
    });
    let otel = function.telemetry.layer();
    tokio::spawn(
        Runtime::new(otel.wrap(handler))
            .layer(otel)
            .run_concurrent(),
    );
    let events = wait_for_span_of(&function, "stuck").await;
    let (_, stuck) = function.invocation_span("stuck");
    assert_timed_out(&stuck, &function);
    assert!(
        !has_span_of(&events, "close"),
        "no guard for close:\n{}",
        function.timeline.describe()
    );
    release.notify_one();
    wait_for_span_of(&function, "close").await;
    let (_, close) = function.invocation_span("close");
    assert_no_error(&close, &function);
}
