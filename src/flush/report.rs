//! What became of an export, and the reporting of failures without flooding the function's
//! logs.

use super::batch::Batch;
use crate::config::Signal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Why an export did not reach the backend; the number is the items lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExportFailure {
    /// The deadline passed first (collector slow, unreachable or not answering).
    Timeout(usize),
    /// The exporter returned an error (refused connection, HTTP error status...).
    Failed(usize, String),
    /// The export thread is gone, or dropped the export (its runtime ended with it).
    WorkerGone(usize),
    /// An exporter panicked during the export.
    Panicked(usize),
    /// Items were dropped because the buffer was full (the exports could not keep up).
    BufferFull(usize),
}

impl ExportFailure {
    pub(crate) fn lost(&self) -> usize {
        match self {
            Self::Timeout(n)
            | Self::Failed(n, _)
            | Self::WorkerGone(n)
            | Self::Panicked(n)
            | Self::BufferFull(n) => *n,
        }
    }
}

impl std::fmt::Display for ExportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(_) => f.write_str("the export did not finish before its deadline"),
            Self::Failed(_, e) => write!(f, "the exporter failed: {e}"),
            Self::WorkerGone(_) => f.write_str("the export thread has stopped"),
            Self::Panicked(_) => f.write_str("the exporter panicked"),
            Self::BufferFull(_) => f.write_str("the buffer was full"),
        }
    }
}

/// The outcome of one signal's share of an export: the items exported.
pub(crate) type ExportResult = Result<usize, ExportFailure>;

/// The outcome of an export job, per signal; `None` for a signal the job did not carry.
#[derive(Debug, Default)]
pub(crate) struct ExportReport {
    pub spans: Option<ExportResult>,
    pub logs: Option<ExportResult>,
    pub metrics: Option<ExportResult>,
    /// The lambda-otel extension's mark, if the job carried one: why it was not given.
    pub mark: Option<Result<(), String>>,
}

impl ExportReport {
    /// Every signal of `batch` failed the same way (no export thread, no answer in time).
    pub(crate) fn failed(shape: Shape, failure: fn(usize) -> ExportFailure) -> Self {
        let part = |n: usize, carried: bool| carried.then(|| Err(failure(n)));
        Self {
            spans: part(shape.spans, shape.spans > 0),
            logs: part(shape.logs, shape.logs > 0),
            metrics: part(1, shape.metrics),
            mark: None,
        }
    }

    pub(crate) fn failures(&self) -> impl Iterator<Item = (Signal, &ExportFailure)> {
        [
            (Signal::Traces, &self.spans),
            (Signal::Logs, &self.logs),
            (Signal::Metrics, &self.metrics),
        ]
        .into_iter()
        .filter_map(|(signal, result)| match result {
            Some(Err(failure)) => Some((signal, failure)),
            _ => None,
        })
    }
}

/// How much a batch carries, kept to report on it once it is gone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    spans: usize,
    logs: usize,
    metrics: bool,
}

impl From<&Batch> for Shape {
    fn from(batch: &Batch) -> Self {
        Self {
            spans: batch.spans.len(),
            logs: batch.log_count(),
            metrics: batch.metrics,
        }
    }
}

/// At most one message (a warning or a recovery) per this period; what happens in between is
/// counted into the next one.
pub(crate) const QUIET_PERIOD: Duration = Duration::from_secs(60);

/// When the last message of a kind was written: at most one per [`QUIET_PERIOD`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct QuietPeriod {
    last: Option<Instant>,
}

impl QuietPeriod {
    pub(crate) const fn new() -> Self {
        Self { last: None }
    }

    /// Whether a message may be written at `now`.
    pub(crate) fn due(&self, now: Instant) -> bool {
        self.last
            .is_none_or(|at| now.saturating_duration_since(at) >= QUIET_PERIOD)
    }

    /// A message was written at `now`.
    pub(crate) fn said(&mut self, now: Instant) {
        self.last = Some(now);
    }
}

/// What was lost since the last message, per signal.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Lost {
    spans: usize,
    log_records: usize,
    metric_exports: usize,
}

impl Lost {
    fn add(&mut self, signal: Signal, n: usize) {
        match signal {
            Signal::Traces => self.spans += n,
            Signal::Logs => self.log_records += n,
            Signal::Metrics => self.metric_exports += n,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Kept across recoveries, so a collector that fails every other export still gets one
    /// message a minute.
    quiet: QuietPeriod,
    /// Failures since the last message.
    failures: u64,
    /// Losses since the last message: every message says what was lost since the one before,
    /// so the losses of a process add up over its messages.
    lost: Lost,
}

impl State {
    fn due(&self, now: Instant) -> bool {
        self.quiet.due(now)
    }

    fn said(&mut self, now: Instant) {
        self.quiet.said(now);
        self.failures = 0;
        self.lost = Lost::default();
    }
}

/// Marks the lambda-otel extension did not get since the last message about them.
#[derive(Debug, Default)]
struct Marks {
    quiet: QuietPeriod,
    failures: u64,
}

/// Rate-limited reporting of export failures and of the recovery after them. The messages go
/// to the log lines on stdout only, never into the log records being exported.
#[derive(Debug, Default)]
pub(crate) struct Reporter {
    failing: AtomicBool,
    state: Mutex<State>,
    /// Apart from the exports': a mark that fails loses no telemetry.
    marks: Mutex<Marks>,
    /// Where each signal goes (traces, metrics, logs), without credentials, for the warnings:
    /// a deadline that passes says nothing of where the export was going.
    destinations: [Option<Box<str>>; 3],
}

impl Reporter {
    /// Failures of `signal` name `destination` (an endpoint without credentials or query).
    pub(crate) fn with_destination(mut self, signal: Signal, destination: &str) -> Self {
        self.destinations[signal as usize] = Some(destination.into());
        self
    }

    /// Cheap when nothing was failing: one atomic load.
    pub(crate) fn success(&self) {
        if !self.failing.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut state = self.lock();
        let now = Instant::now();
        if !state.due(now) {
            // Said with the next message, or at shutdown.
            return;
        }
        tracing::info!(
            target: "lambda_otel",
            failures = state.failures,
            lost_spans = state.lost.spans,
            lost_log_records = state.lost.log_records,
            lost_metric_exports = state.lost.metric_exports,
            "telemetry export recovered"
        );
        state.said(now);
    }

    pub(crate) fn failure(&self, signal: Signal, failure: &ExportFailure) {
        self.failing.store(true, Ordering::Relaxed);
        let mut state = self.lock();
        state.lost.add(signal, failure.lost());
        state.failures += 1;
        let now = Instant::now();
        if !state.due(now) {
            return;
        }
        let destination = self.destinations[signal as usize].as_deref();
        tracing::warn!(
            target: "lambda_otel",
            signal = signal.as_str(),
            destination = destination.unwrap_or("-"),
            error = %failure,
            failures = state.failures,
            lost_spans = state.lost.spans,
            lost_log_records = state.lost.log_records,
            lost_metric_exports = state.lost.metric_exports,
            "telemetry export failed; the invocation itself is unaffected"
        );
        state.said(now);
    }

    /// Reports every failure of `report`; a report with none is a success.
    pub(crate) fn report(&self, report: &ExportReport) {
        self.report_failures(report.failures());
    }

    /// Reports each failure; none at all is a success.
    pub(crate) fn report_failures<'a>(
        &self,
        failures: impl IntoIterator<Item = (Signal, &'a ExportFailure)>,
    ) {
        let mut failed = false;
        for (signal, failure) in failures {
            failed = true;
            self.failure(signal, failure);
        }
        if !failed {
            self.success();
        }
    }

    /// The lambda-otel extension was not told that an invocation's telemetry is out (`why`):
    /// nothing is lost, the extension waits for Lambda's `platform.runtimeDone` instead. At
    /// most one warning per quiet period, with the number of failed marks since the last.
    pub(crate) fn mark_failed(&self, why: &str) {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        marks.failures += 1;
        let now = Instant::now();
        if !marks.quiet.due(now) {
            return;
        }
        tracing::warn!(
            target: "lambda_otel",
            error = why,
            failures = marks.failures,
            "the lambda-otel extension was not told that the invocation's telemetry is out; \
             it waits for Lambda's platform.runtimeDone instead (no telemetry is lost)"
        );
        marks.quiet.said(now);
        marks.failures = 0;
    }

    /// At shutdown: what the quiet period kept back is said now, whatever the period, so no
    /// loss goes unreported when the process ends.
    pub(crate) fn final_report(&self) {
        let mut state = self.lock();
        if state.failures == 0 {
            return;
        }
        tracing::warn!(
            target: "lambda_otel",
            failures = state.failures,
            lost_spans = state.lost.spans,
            lost_log_records = state.lost.log_records,
            lost_metric_exports = state.lost.metric_exports,
            "telemetry export failures since the last message, at shutdown"
        );
        state.said(Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
impl Reporter {
    /// A reporter whose quiet period has just begun: what is lost from now on is counted and
    /// kept for the next message, where a test can read it.
    pub(crate) fn quiet() -> Self {
        let reporter = Self::default();
        reporter.lock().said(Instant::now());
        reporter
    }

    /// The spans, log records and metric exports lost since the last message.
    pub(crate) fn unsaid_losses(&self) -> (usize, usize, usize) {
        let lost = self.lock().lost;
        (lost.spans, lost.log_records, lost.metric_exports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_failure_of_a_period_warns_and_losses_count_per_signal() {
        let reporter = Reporter::default();
        reporter.failure(Signal::Traces, &ExportFailure::Timeout(3));
        // Said: the next message counts from here.
        assert_eq!(reporter.lock().lost, Lost::default());
        reporter.failure(Signal::Logs, &ExportFailure::Timeout(2));
        reporter.failure(Signal::Metrics, &ExportFailure::BufferFull(1));
        let state = reporter.lock();
        assert_eq!(state.failures, 2);
        assert_eq!(
            state.lost,
            Lost {
                spans: 0,
                log_records: 2,
                metric_exports: 1
            }
        );
    }

    #[test]
    fn a_recovery_within_the_quiet_period_is_kept_for_the_next_message() {
        let reporter = Reporter::default();
        reporter.failure(Signal::Traces, &ExportFailure::Failed(1, "refused".into()));
        reporter.failure(Signal::Traces, &ExportFailure::Failed(4, "refused".into()));
        reporter.success();
        assert!(!reporter.failing.load(Ordering::Relaxed));
        // Failing every other export does not write a message each time.
        assert_eq!(reporter.lock().lost.spans, 4);
        reporter.final_report();
        assert_eq!(reporter.lock().lost, Lost::default());
        assert_eq!(reporter.lock().failures, 0);
    }

    #[test]
    fn failed_marks_are_counted_apart_from_the_exports() {
        let reporter = Reporter::default();
        for _ in 0..3 {
            reporter.mark_failed("no answer");
        }
        // The first was said; the next two wait for the next message.
        assert_eq!(reporter.marks.lock().expect("unpoisoned").failures, 2);
        assert_eq!(reporter.lock().failures, 0);
        assert!(!reporter.failing.load(Ordering::Relaxed));
    }
}
