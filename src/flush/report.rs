//! Export failures, reported without flooding the function's logs.

use super::worker::ExportFailure;
use crate::config::Signal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// At most one warning per this period; the rest are counted into the next one.
const QUIET_PERIOD: Duration = Duration::from_secs(60);

/// What was lost since the last warning, per signal.
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
    last_warning: Option<Instant>,
    suppressed: u64,
    lost: Lost,
}

/// Rate-limited reporting of export failures and of the recovery after them. The warnings go
/// to the log lines on stdout only, never into the log records being exported.
#[derive(Debug, Default)]
pub(crate) struct Reporter {
    failing: AtomicBool,
    state: Mutex<State>,
}

impl Reporter {
    /// Cheap when nothing was failing: one atomic load.
    pub(crate) fn success(&self) {
        if !self.failing.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut state = self.lock();
        tracing::info!(
            target: "lambda_otel",
            failures = state.suppressed + 1,
            lost_spans = state.lost.spans,
            lost_log_records = state.lost.log_records,
            lost_metric_exports = state.lost.metric_exports,
            "telemetry export recovered"
        );
        *state = State::default();
    }

    pub(crate) fn failure(&self, signal: Signal, failure: &ExportFailure) {
        self.failing.store(true, Ordering::Relaxed);
        let mut state = self.lock();
        state.lost.add(signal, failure.lost());
        let now = Instant::now();
        let due = state
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= QUIET_PERIOD);
        if !due {
            state.suppressed += 1;
            return;
        }
        tracing::warn!(
            target: "lambda_otel",
            signal = signal.as_str(),
            error = %failure,
            lost_spans = state.lost.spans,
            lost_log_records = state.lost.log_records,
            lost_metric_exports = state.lost.metric_exports,
            suppressed_warnings = state.suppressed,
            "telemetry export failed; the invocation itself is unaffected"
        );
        state.last_warning = Some(now);
        state.suppressed = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_failure_of_a_period_warns_and_losses_count_per_signal() {
        let reporter = Reporter::default();
        reporter.failure(Signal::Traces, &ExportFailure::Timeout(3));
        reporter.failure(Signal::Logs, &ExportFailure::Timeout(2));
        reporter.failure(Signal::Metrics, &ExportFailure::BufferFull(1));
        let state = reporter.lock();
        assert_eq!(state.suppressed, 2);
        assert_eq!(
            state.lost,
            Lost {
                spans: 3,
                log_records: 2,
                metric_exports: 1
            }
        );
    }

    #[test]
    fn success_after_failures_resets() {
        let reporter = Reporter::default();
        reporter.failure(Signal::Traces, &ExportFailure::Failed(1, "refused".into()));
        reporter.success();
        assert!(!reporter.failing.load(Ordering::Relaxed));
        assert_eq!(reporter.lock().lost, Lost::default());
    }
}
