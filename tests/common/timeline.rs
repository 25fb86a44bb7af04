//! The ordered record of everything the loopback servers saw.
//!
//! Every loopback server appends to one shared [`Timeline`], so a test can assert on the
//! relative order of Runtime API calls and OTLP exports — which is the whole
//! point of the harness: "the span of invocation N reached the collector before
//! the runtime asked for invocation N+1".

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::otlp::{ReceivedLog, ReceivedMetric, ReceivedSpan};

/// How long a wait may take before the test fails. Generous because the
/// machine is small and a debug build of an exporter can be slow; a correct
/// test never comes close to it.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// One thing a loopback server observed, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum TimelineEvent {
    /// The runtime sent GET `/2018-06-01/runtime/invocation/next`; `n` counts
    /// polls from 1. Recorded on arrival, before it is answered or held.
    NextPolled {
        /// 1-based poll number.
        n: usize,
    },
    /// The runtime posted `/invocation/{request_id}/response`.
    ResponsePosted {
        /// The invocation the response is for.
        request_id: String,
        /// The raw response body (JSON for buffered responses).
        body: Vec<u8>,
    },
    /// The runtime posted `/invocation/{request_id}/error`.
    ErrorPosted {
        /// The invocation the error is for.
        request_id: String,
        /// JSON `{"errorType":..,"errorMessage":..}`.
        body: Vec<u8>,
    },
    /// One OTLP trace export request arrived and was decoded (recorded before
    /// the receiver answers, whatever its behaviour).
    SpansExported {
        /// The spans of that request, flattened.
        spans: Vec<ReceivedSpan>,
    },
    /// One OTLP metrics export request arrived and was decoded (recorded
    /// before the receiver answers).
    MetricsExported {
        /// The metrics of that request, flattened.
        metrics: Vec<ReceivedMetric>,
    },
    /// One OTLP logs export request arrived and was decoded (recorded before
    /// the receiver answers).
    LogsExported {
        /// The log records of that request, flattened.
        logs: Vec<ReceivedLog>,
    },
    /// An extension registered (`POST /2020-01-01/extension/register` answered 200).
    ExtensionRegistered {
        /// `Lambda-Extension-Name`.
        name: String,
        /// The events it registered for (`INVOKE`, `SHUTDOWN`).
        events: Vec<String>,
    },
    /// Extension `name` sent GET `/2020-01-01/extension/event/next`; `n` counts its polls from
    /// 1. Recorded on arrival, before it is answered or held.
    ExtensionNextPolled {
        /// The extension's registered name.
        name: String,
        /// 1-based poll number.
        n: usize,
    },
    /// The INVOKE event of `request_id` was handed to extension `name` (at the moment the
    /// runtime was handed the invocation).
    ExtensionInvoked {
        /// The extension's registered name.
        name: String,
        /// The invocation.
        request_id: String,
    },
    /// The SHUTDOWN event was handed to extension `name`.
    ShutdownSent {
        /// The extension's registered name.
        name: String,
        /// `shutdownReason`: `spindown`, `timeout` or `failure`.
        reason: String,
    },
    /// Extension `name` posted `/extension/init/error` or `/extension/exit/error`.
    ExtensionErrorPosted {
        /// The extension's registered name.
        name: String,
        /// `init` or `exit`.
        phase: String,
        /// `Lambda-Extension-Function-Error-Type`.
        error_type: String,
    },
    /// An extension process started with `ExtensionProcess` ended.
    ExtensionExited {
        /// The name it was started under.
        name: String,
        /// Its exit code; `None` when a signal ended it.
        code: Option<i32>,
    },
    /// An Extensions or Telemetry API call was refused with Lambda's error JSON.
    ApiRefused {
        /// The path called.
        path: String,
        /// 403, or 400 for a subscription that failed validation.
        status: u16,
        /// `errorType`, e.g. `Extension.InvalidEventType` or `ValidationError`.
        error_type: String,
    },
    /// The invoke phase of `request_id` was not over when its deadline passed (the runtime had
    /// not posted its outcome and called `/next` again, or an INVOKE extension was not back in
    /// `/next`): Lambda's timeout, with `Emulation::with_timeouts`. Recorded before the
    /// records and the SHUTDOWN of the reset it causes.
    InvocationTimedOut {
        /// The invocation.
        request_id: String,
    },
    /// The function's runtime process ended (`RuntimeProcess`, or a test calling
    /// `RuntimeApi::runtime_exited`). Recorded before the records and the SHUTDOWN of the reset
    /// it causes.
    RuntimeExited {
        /// Its exit code; `None` when a signal ended it (`std::process::abort`).
        code: Option<i32>,
    },
    /// The runtime posted a response or error after a reset, which Lambda refuses.
    OutcomeRefused {
        /// The invocation it was for.
        request_id: String,
        /// True for `/error`, false for `/response`.
        error: bool,
        /// 410 for the invocation that timed out, 400 for any other.
        status: u16,
        /// `InvokeTimeout` or `InvalidRequestID`.
        error_type: String,
    },
    /// Extension `name` subscribed to the Telemetry API (`PUT /2022-07-01/telemetry`).
    TelemetrySubscribed {
        /// The extension's registered name.
        name: String,
        /// The `types` it asked for.
        types: Vec<String>,
        /// `destination.URI`.
        uri: String,
    },
    /// One Telemetry API batch, recorded after the subscriber answered it with success.
    TelemetryDelivered {
        /// The subscribing extension.
        name: String,
        /// The batch as posted: `{"time", "type", "record"}` objects.
        records: Vec<serde_json::Value>,
    },
    /// A Telemetry API batch the subscriber refused or left unanswered (then dropped).
    TelemetryDeliveryFailed {
        /// The subscribing extension.
        name: String,
        /// How many records the batch held.
        records: usize,
        /// What went wrong.
        error: String,
    },
    /// The function told the OTLP receiver that an invocation's flush is over, as it tells
    /// the lambda-otel extension: `POST /lambda-otel/v1/invocations/{request_id}/flushed`
    /// (recorded on arrival, before it is answered, whatever the receiver's behaviour).
    FlushedMarked {
        /// The invocation, percent-decoded from the path.
        request_id: String,
    },
}

impl TimelineEvent {
    /// True for the `n`-th `/next` poll.
    pub fn is_next_poll(&self, n: usize) -> bool {
        matches!(self, Self::NextPolled { n: m } if *m == n)
    }

    /// True for a response or error posted for `id`.
    pub fn is_outcome_for(&self, id: &str) -> bool {
        match self {
            Self::ResponsePosted { request_id, .. } | Self::ErrorPosted { request_id, .. } => {
                request_id == id
            }
            _ => false,
        }
    }

    /// True for the mark that `id`'s flush is over.
    pub fn is_mark_for(&self, id: &str) -> bool {
        matches!(self, Self::FlushedMarked { request_id } if request_id == id)
    }

    /// The spans of a trace export; empty for every other event.
    pub fn exported_spans(&self) -> &[ReceivedSpan] {
        match self {
            Self::SpansExported { spans } => spans,
            _ => &[],
        }
    }

    /// The metrics of a metrics export; empty for every other event.
    pub fn exported_metrics(&self) -> &[ReceivedMetric] {
        match self {
            Self::MetricsExported { metrics } => metrics,
            _ => &[],
        }
    }

    /// The records of a logs export; empty for every other event.
    pub fn exported_logs(&self) -> &[ReceivedLog] {
        match self {
            Self::LogsExported { logs } => logs,
            _ => &[],
        }
    }

    /// True for extension `name`'s `n`-th `/next` poll.
    pub fn is_extension_next_poll(&self, name: &str, n: usize) -> bool {
        matches!(self, Self::ExtensionNextPolled { name: e, n: m } if e == name && *m == n)
    }

    /// True for the registration of extension `name`.
    pub fn is_extension_registered(&self, name: &str) -> bool {
        matches!(self, Self::ExtensionRegistered { name: e, .. } if e == name)
    }

    /// True for the INVOKE event of `request_id` handed to extension `name`.
    pub fn is_extension_invoked(&self, name: &str, request_id: &str) -> bool {
        matches!(self, Self::ExtensionInvoked { name: e, request_id: r } if e == name && r == request_id)
    }

    /// True for the SHUTDOWN event handed to extension `name`.
    pub fn is_shutdown_sent(&self, name: &str) -> bool {
        matches!(self, Self::ShutdownSent { name: e, .. } if e == name)
    }

    /// True when the process of extension `name` ended.
    pub fn is_extension_exit(&self, name: &str) -> bool {
        matches!(self, Self::ExtensionExited { name: e, .. } if e == name)
    }

    /// True for the SHUTDOWN event handed to extension `name` with `shutdownReason` `reason`
    /// (`spindown`, `timeout`, `failure`).
    pub fn is_shutdown_sent_with(&self, name: &str, reason: &str) -> bool {
        matches!(self, Self::ShutdownSent { name: e, reason: r } if e == name && r == reason)
    }

    /// True for the timeout of `request_id`.
    pub fn is_timed_out(&self, request_id: &str) -> bool {
        matches!(self, Self::InvocationTimedOut { request_id: r } if r == request_id)
    }

    /// True when the runtime process ended.
    pub fn is_runtime_exit(&self) -> bool {
        matches!(self, Self::RuntimeExited { .. })
    }

    /// True for a refused outcome for `request_id`.
    pub fn is_outcome_refused_for(&self, request_id: &str) -> bool {
        matches!(self, Self::OutcomeRefused { request_id: r, .. } if r == request_id)
    }

    /// The records of a successful Telemetry API delivery; empty for every other event.
    pub fn delivered_records(&self) -> &[serde_json::Value] {
        match self {
            Self::TelemetryDelivered { records, .. } => records,
            _ => &[],
        }
    }

    /// True for a delivery holding a record of type `kind` (`platform.runtimeDone`, ...), for
    /// `request_id` when one is given.
    pub fn delivers(&self, kind: &str, request_id: Option<&str>) -> bool {
        self.delivered_records().iter().any(|r| {
            r["type"] == kind
                && request_id.is_none_or(|id| r["record"]["requestId"].as_str() == Some(id))
        })
    }
}

/// One line per event, for failure messages that say what was seen.
impl fmt::Display for TimelineEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NextPolled { n } => write!(f, "next poll #{n}"),
            Self::ResponsePosted { request_id, body } => {
                write!(f, "response for {request_id:?}: {}", lossy(body))
            }
            Self::ErrorPosted { request_id, body } => {
                write!(f, "error for {request_id:?}: {}", lossy(body))
            }
            Self::SpansExported { spans } => {
                let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
                write!(f, "export of {} span(s): {names:?}", spans.len())
            }
            Self::MetricsExported { metrics } => {
                let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
                write!(f, "export of {} metric(s): {names:?}", metrics.len())
            }
            Self::LogsExported { logs } => {
                let lines: Vec<String> = logs
                    .iter()
                    .map(|l| match l.body_str() {
                        Some(body) => format!("{} {body}", l.severity_text),
                        None => format!("{} {:?}", l.severity_text, l.body),
                    })
                    .collect();
                let text = format!("{lines:?}");
                write!(f, "export of {} log record(s): {}", logs.len(), cut(&text))
            }
            Self::ExtensionRegistered { name, events } => {
                write!(f, "extension {name} registered for {events:?}")
            }
            Self::ExtensionNextPolled { name, n } => write!(f, "extension {name} next poll #{n}"),
            Self::ExtensionInvoked { name, request_id } => {
                write!(f, "extension {name} handed INVOKE {request_id:?}")
            }
            Self::ShutdownSent { name, reason } => {
                write!(f, "extension {name} handed SHUTDOWN ({reason})")
            }
            Self::ExtensionErrorPosted {
                name,
                phase,
                error_type,
            } => write!(f, "extension {name} posted a {phase} error: {error_type}"),
            Self::ExtensionExited { name, code } => {
                write!(f, "extension process {name} exited ({code:?})")
            }
            Self::ApiRefused {
                path,
                status,
                error_type,
            } => write!(f, "{path} refused: {status} {error_type}"),
            Self::InvocationTimedOut { request_id } => {
                write!(f, "invocation {request_id:?} timed out")
            }
            Self::RuntimeExited { code } => write!(f, "runtime process exited ({code:?})"),
            Self::OutcomeRefused {
                request_id,
                error,
                status,
                error_type,
            } => {
                let kind = if *error { "error" } else { "response" };
                write!(
                    f,
                    "{kind} for {request_id:?} refused: {status} {error_type}"
                )
            }
            Self::TelemetrySubscribed { name, types, uri } => {
                write!(f, "extension {name} subscribed {uri} to {types:?}")
            }
            Self::TelemetryDelivered { name, records } => {
                let records: Vec<String> = records.iter().map(describe_record).collect();
                let text = format!("{records:?}");
                write!(f, "telemetry to {name}: {}", cut(&text))
            }
            Self::TelemetryDeliveryFailed {
                name,
                records,
                error,
            } => write!(
                f,
                "telemetry to {name} failed ({records} record(s)): {error}"
            ),
            Self::FlushedMarked { request_id } => write!(f, "flushed mark for {request_id:?}"),
        }
    }
}

fn lossy(body: &[u8]) -> String {
    cut(&String::from_utf8_lossy(body))
}

/// `type requestId` of a Telemetry API record (just the type when it has no request id).
fn describe_record(record: &serde_json::Value) -> String {
    let kind = record["type"].as_str().unwrap_or("?");
    match record["record"]["requestId"].as_str() {
        Some(id) => format!("{kind} {id}"),
        None => kind.to_owned(),
    }
}

/// `text`, cut after 200 characters.
fn cut(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Append-only, shared event log with blocking waits.
///
/// Indices never change once an event is recorded, so a position taken from
/// one snapshot is valid in every later one.
///
/// The waits block the calling thread. A test whose function under test runs
/// on a tokio runtime must not block that runtime's thread, so from async code
/// call them through `spawn_blocking`:
///
/// ```ignore
/// let tl = timeline.clone();
/// tokio::task::spawn_blocking(move || tl.wait_for_outcomes(2))
///     .await
///     .expect("wait failed"); // a timeout panic surfaces here with its message
/// ```
#[derive(Clone, Default)]
pub struct Timeline {
    inner: Arc<(Mutex<Vec<TimelineEvent>>, Condvar)>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an event and wakes every waiter.
    pub fn record(&self, event: TimelineEvent) {
        let (_, changed) = &*self.inner;
        self.lock().push(event);
        changed.notify_all();
    }

    /// A snapshot of everything recorded so far, in order.
    pub fn events(&self) -> Vec<TimelineEvent> {
        self.lock().clone()
    }

    /// Blocks until `pred` holds for the recorded events and returns that
    /// snapshot; panics after 30 s with `what` and every event seen.
    pub fn wait_for(
        &self,
        pred: impl Fn(&[TimelineEvent]) -> bool,
        what: &str,
    ) -> Vec<TimelineEvent> {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        let (_, changed) = &*self.inner;
        let mut events = self.lock();
        while !pred(&events) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let seen = describe(&events);
                drop(events);
                panic!("timed out after {WAIT_TIMEOUT:?} waiting for {what}; timeline:\n{seen}");
            }
            events = changed
                .wait_timeout(events, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        events.clone()
    }

    /// Waits until `n` responses and errors in total have been posted.
    pub fn wait_for_outcomes(&self, n: usize) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| {
                let outcomes = events.iter().filter(|e| {
                    matches!(
                        e,
                        TimelineEvent::ResponsePosted { .. } | TimelineEvent::ErrorPosted { .. }
                    )
                });
                outcomes.count() >= n
            },
            &format!("{n} invocation outcome(s)"),
        )
    }

    /// Waits until the runtime has polled `/next` `n` times.
    pub fn wait_for_next_polls(&self, n: usize) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| events.iter().any(|e| e.is_next_poll(n)),
            &format!("next poll #{n}"),
        )
    }

    /// Waits until extension `name` has polled its `/next` `n` times.
    pub fn wait_for_extension_next_polls(&self, name: &str, n: usize) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| events.iter().any(|e| e.is_extension_next_poll(name, n)),
            &format!("extension {name} next poll #{n}"),
        )
    }

    /// Waits until a Telemetry API delivery has brought a record of type `kind` (for
    /// `request_id` when one is given).
    pub fn wait_for_delivered(&self, kind: &str, request_id: Option<&str>) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| events.iter().any(|e| e.delivers(kind, request_id)),
            &format!("a delivered {kind} record for {request_id:?}"),
        )
    }

    /// Waits until the invocation `request_id` has timed out.
    pub fn wait_for_timed_out(&self, request_id: &str) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| events.iter().any(|e| e.is_timed_out(request_id)),
            &format!("the timeout of {request_id:?}"),
        )
    }

    /// Waits until the runtime process has ended.
    pub fn wait_for_runtime_exit(&self) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| events.iter().any(TimelineEvent::is_runtime_exit),
            "the runtime process's exit",
        )
    }

    /// Waits until extension `name`, handed SHUTDOWN, is done with it: it polled `/next`
    /// again or its process exited.
    pub fn wait_for_extension_done(&self, name: &str) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| {
                let Some(shutdown) = events.iter().position(|e| e.is_shutdown_sent(name)) else {
                    return false;
                };
                events[shutdown..].iter().any(|e| {
                    e.is_extension_exit(name)
                        || matches!(e, TimelineEvent::ExtensionNextPolled { name: n, .. } if n == name)
                })
            },
            &format!("extension {name} done after SHUTDOWN"),
        )
    }

    /// Waits until at least `n` spans in total have been exported.
    pub fn wait_for_spans(&self, n: usize) -> Vec<TimelineEvent> {
        self.wait_for_count(n, "exported span(s)", |e| e.exported_spans().len())
    }

    /// Waits until at least `n` metrics export requests have been decoded
    /// (the flush of one invocation sends one, whatever it holds).
    pub fn wait_for_metrics(&self, n: usize) -> Vec<TimelineEvent> {
        self.wait_for_count(n, "metrics export(s)", |e| {
            usize::from(matches!(e, TimelineEvent::MetricsExported { .. }))
        })
    }

    /// Waits until at least `n` log records in total have been exported.
    pub fn wait_for_logs(&self, n: usize) -> Vec<TimelineEvent> {
        self.wait_for_count(n, "exported log record(s)", |e| e.exported_logs().len())
    }

    /// Waits until a metric named `name` has been exported.
    pub fn wait_for_metric(&self, name: &str) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| {
                events
                    .iter()
                    .flat_map(TimelineEvent::exported_metrics)
                    .any(|m| m.name == name)
            },
            &format!("a metric named {name:?}"),
        )
    }

    /// Waits until `count` summed over the events reaches `n`.
    fn wait_for_count(
        &self,
        n: usize,
        what: &str,
        count: impl Fn(&TimelineEvent) -> usize,
    ) -> Vec<TimelineEvent> {
        self.wait_for(
            |events| events.iter().map(&count).sum::<usize>() >= n,
            &format!("{n} {what}"),
        )
    }

    /// Index of the first event matching `pred`; panics naming `what` and
    /// listing the timeline when there is none. Use it to assert order:
    /// `assert!(tl.position(a, "a") < tl.position(b, "b"))`.
    pub fn position(&self, pred: impl Fn(&TimelineEvent) -> bool, what: &str) -> usize {
        let events = self.events();
        match events.iter().position(pred) {
            Some(index) => index,
            None => panic!("no {what} in timeline:\n{}", describe(&events)),
        }
    }

    /// The timeline as numbered lines, for assertion messages.
    pub fn describe(&self) -> String {
        describe(&self.lock())
    }

    // A panicking test thread must not hide the servers' later events, so a
    // poisoned lock is still used: the Vec is only ever pushed to whole.
    fn lock(&self) -> MutexGuard<'_, Vec<TimelineEvent>> {
        self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn describe(events: &[TimelineEvent]) -> String {
    if events.is_empty() {
        return "  (nothing)".to_owned();
    }
    let lines: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| format!("  #{i} {e}"))
        .collect();
    lines.join("\n")
}
