//! Export failures, reported without flooding the function's logs.

use super::worker::ExportFailure;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// At most one warning per this period; the rest are counted into the next one.
const QUIET_PERIOD: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct State {
    last_warning: Option<Instant>,
    suppressed: u64,
    lost_spans: usize,
}

/// Rate-limited reporting of export failures and of the recovery after them.
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
            lost_spans = state.lost_spans,
            "span export recovered"
        );
        *state = State::default();
    }

    pub(crate) fn failure(&self, failure: &ExportFailure, dropped: usize) {
        self.failing.store(true, Ordering::Relaxed);
        let mut state = self.lock();
        state.lost_spans += failure.spans() + dropped;
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
            error = %failure,
            lost_spans = state.lost_spans,
            suppressed_warnings = state.suppressed,
            "span export failed; the invocation itself is unaffected"
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
    fn only_the_first_failure_of_a_period_warns() {
        let reporter = Reporter::default();
        reporter.failure(&ExportFailure::Timeout(3), 0);
        reporter.failure(&ExportFailure::Timeout(2), 1);
        let state = reporter.lock();
        assert_eq!(state.suppressed, 1);
        assert_eq!(state.lost_spans, 6);
    }

    #[test]
    fn success_after_failures_resets() {
        let reporter = Reporter::default();
        reporter.failure(&ExportFailure::Failed(1, "refused".into()), 0);
        reporter.success();
        assert!(!reporter.failing.load(Ordering::Relaxed));
        assert_eq!(reporter.lock().lost_spans, 0);
    }
}
