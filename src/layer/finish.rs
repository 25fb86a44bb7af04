//! Who ends the invocation span and flushes, and when: one rule, for the two futures, and the
//! deadline guard for an invocation that is about to time out.

use super::layer::LayerState;
use crate::clock::Alarm;
use crate::config::FlushMode;
use crate::flush::PendingFlush;
use crate::invocation::Invocation;
use std::time::{Duration, Instant};

/// In before-response mode, the time kept after the flush for posting the response: a local
/// HTTP request to the Runtime API takes well under a millisecond, a 6 MB response a few.
const RESPONSE_MARGIN: Duration = Duration::from_millis(20);

/// In after-response mode, the time kept after the flush for the runtime's `/next`, which ends
/// the invocation for Lambda: a `/next` past the deadline is a timeout, and Lambda resets the
/// environment (the next invocation a cold start). A local request takes well under this.
const NEXT_MARGIN: Duration = Duration::from_millis(5);

/// The time the deadline guard keeps between the end of its flush and the deadline, when
/// Lambda stops the process: for the alarm's task to be polled on a busy executor and for the
/// export's last bytes to reach the collector (or the extension) while the process still runs.
const GUARD_MARGIN: Duration = Duration::from_millis(50);

/// Where a future of the middleware stands when it finishes its part of an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinishPoint {
    /// In [`HandlerFuture`](super::HandlerFuture): the handler has returned (or panicked), the
    /// outcome is recorded, and lambda_runtime has yet to post the response.
    HandlerReturned,
    /// In [`InvocationFuture`](super::InvocationFuture): the response has been posted; the
    /// runtime asks `/next`, and Lambda may freeze the process, once this future is done.
    ResponsePosted,
}

impl LayerState {
    /// Ends the invocation and starts its flush if they belong at `point`; each future calls
    /// this at its point and waits for the flush it returns (`None`: nothing to wait for).
    ///
    /// The rule:
    /// - In before-response mode, when the handler wrapper saw the invocation
    ///   ([`Invocation::handled`]), the span ends and the telemetry flushes at
    ///   [`FinishPoint::HandlerReturned`]. That flush ends [`RESPONSE_MARGIN`] before the
    ///   invocation's deadline: the response still has to be posted, and one posted past the
    ///   deadline is lost.
    /// - Otherwise they happen at [`FinishPoint::ResponsePosted`], ending [`NEXT_MARGIN`]
    ///   before the deadline, so that the runtime's `/next` is in time: in after-response
    ///   mode, and in before-response mode without an [`OtelHandler`](super::OtelHandler)
    ///   around the handler, which has then had no chance to flush.
    /// - At [`FinishPoint::ResponsePosted`] the span ends in every case: ending twice does
    ///   nothing, and a span the handler's future did not end is ended all the same.
    /// - Unless the deadline guard ended it and flushed ([`time_out`](Self::time_out)): then
    ///   nothing more happens at either point, neither a second span nor a second flush (nor a
    ///   second mark to the extension). What the handler records after the guard stays in the
    ///   buffers and goes out with the next flush: the next invocation's, or the shutdown's.
    pub(crate) fn finish_at(
        &self,
        point: FinishPoint,
        invocation: &Invocation,
    ) -> Option<PendingFlush> {
        if invocation.timed_out() {
            return None;
        }
        let flushes_here = self.flush_point(invocation) == point;
        if flushes_here || point == FinishPoint::ResponsePosted {
            invocation.end(self.metrics.as_ref());
        }
        if !flushes_here {
            return None;
        }
        let deadline = invocation.deadline().map(|d| flush_deadline(point, d));
        self.flusher
            .as_ref()?
            .start(deadline, invocation.request_id())
    }

    /// Where `invocation` flushes: see [`finish_at`](Self::finish_at).
    fn flush_point(&self, invocation: &Invocation) -> FinishPoint {
        if self.flush_mode == FlushMode::BeforeResponse && invocation.handled() {
            FinishPoint::HandlerReturned
        } else {
            FinishPoint::ResponsePosted
        }
    }
}

/// The deadline guard: an invocation whose handler still runs when only the flush's bound (and
/// [`GUARD_MARGIN`]) is left before its deadline ends its span as timed out and flushes, while
/// the process still runs, instead of leaving nothing when Lambda stops it at the deadline.
impl LayerState {
    /// The alarm of `invocation`'s guard, at its deadline minus the flush timeout and
    /// [`GUARD_MARGIN`]. `None`, no guard, when the guard is off, nothing is exported, the
    /// invocation has no deadline, or that instant has passed already (the deadline is too
    /// close for a flush to fit before it).
    pub(crate) fn arm_guard(&self, invocation: &Invocation) -> Option<Alarm> {
        if !self.deadline_guard {
            return None;
        }
        let bound = self.flusher.as_ref()?.timeout();
        Alarm::at(guard_at(invocation.deadline()?, bound, Instant::now())?)
    }

    /// The guard's alarm rang: ends the span as timed out and flushes everything buffered, as
    /// the flush that ends an invocation does (the mark to the lambda-otel extension included,
    /// so it makes no span of its own for the timeout), within the flush timeout and never
    /// past [`GUARD_MARGIN`] before the deadline. `None` when the span has ended already or
    /// the handler has returned: the invocation ends as usual (see
    /// [`finish_at`](Self::finish_at)). The handler keeps running: its response, if it comes
    /// in time, is posted as usual.
    pub(crate) fn time_out(&self, invocation: &Invocation) -> Option<PendingFlush> {
        if !invocation.time_out(self.metrics.as_ref()) {
            return None;
        }
        let deadline = invocation
            .deadline()
            .map(|d| d.checked_sub(GUARD_MARGIN).unwrap_or(d));
        // On the export thread: the handler runs on beside this flush, and may block the
        // executor's thread before the deadline.
        self.flusher
            .as_ref()?
            .start_on_thread(deadline, invocation.request_id())
    }
}

/// When the guard of an invocation due at `deadline` rings, with flushes bounded by
/// `flush_bound`; `None` when that is not after `now`.
fn guard_at(deadline: Instant, flush_bound: Duration, now: Instant) -> Option<Instant> {
    deadline
        .checked_sub(flush_bound + GUARD_MARGIN)
        .filter(|&at| at > now)
}

/// The most a flush at `point` may run, for an invocation due at `deadline`: what is left once
/// the margin for what comes after it (posting the response, or the `/next`) is kept.
fn flush_deadline(point: FinishPoint, deadline: Instant) -> Instant {
    let margin = match point {
        FinishPoint::HandlerReturned => RESPONSE_MARGIN,
        FinishPoint::ResponsePosted => NEXT_MARGIN,
    };
    deadline.checked_sub(margin).unwrap_or(deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flush_keeps_a_margin_for_what_follows_it() {
        let deadline = Instant::now() + Duration::from_secs(3);
        assert_eq!(
            flush_deadline(FinishPoint::HandlerReturned, deadline),
            deadline - Duration::from_millis(20),
            "before-response: time to post the response"
        );
        assert_eq!(
            flush_deadline(FinishPoint::ResponsePosted, deadline),
            deadline - Duration::from_millis(5),
            "after-response: time for the runtime's /next"
        );
    }

    #[test]
    fn the_guard_rings_a_flush_bound_and_a_margin_before_the_deadline() {
        let now = Instant::now();
        let bound = Duration::from_millis(200);
        let deadline = now + Duration::from_secs(3);
        assert_eq!(
            guard_at(deadline, bound, now),
            Some(deadline - Duration::from_millis(250))
        );
    }

    #[test]
    fn a_deadline_inside_the_flush_bound_arms_no_guard() {
        let now = Instant::now();
        let bound = Duration::from_millis(200);
        for left in [0, 100, 200, 250] {
            let deadline = now + Duration::from_millis(left);
            assert_eq!(guard_at(deadline, bound, now), None, "{left} ms left");
        }
        let just_enough = now + Duration::from_millis(251);
        assert!(guard_at(just_enough, bound, now).is_some());
    }
}
