//! Who ends the invocation span and flushes, and when: one rule, for the two futures.

use super::layer::Shared;
use crate::config::FlushMode;
use crate::flush::PendingFlush;
use crate::invocation::Invocation;
use std::time::Duration;

/// In before-response mode, the time kept after the flush for posting the response: a local
/// HTTP request to the Runtime API takes well under a millisecond, a 6 MB response a few.
const RESPONSE_MARGIN: Duration = Duration::from_millis(20);

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

impl Shared {
    /// Ends the invocation and starts its flush if they belong at `point`; each future calls
    /// this at its point and waits for the flush it returns (`None`: nothing to wait for).
    ///
    /// The rule:
    /// - In before-response mode, when the handler wrapper saw the invocation
    ///   ([`Invocation::handled`]), the span ends and the telemetry flushes at
    ///   [`FinishPoint::HandlerReturned`]. That flush ends [`RESPONSE_MARGIN`] before the
    ///   invocation's deadline: the response still has to be posted, and one posted past the
    ///   deadline is lost.
    /// - Otherwise they happen at [`FinishPoint::ResponsePosted`], bounded by the deadline: in
    ///   after-response mode, and in before-response mode without an
    ///   [`OtelHandler`](super::OtelHandler) around the handler, which has then had no chance
    ///   to flush.
    /// - At [`FinishPoint::ResponsePosted`] the span ends in every case: ending twice does
    ///   nothing, and a span the handler's future did not end is ended all the same.
    pub(crate) fn finish_at(
        &self,
        point: FinishPoint,
        invocation: &Invocation,
    ) -> Option<PendingFlush> {
        let flushes_here = self.flush_point(invocation) == point;
        if flushes_here || point == FinishPoint::ResponsePosted {
            invocation.end(self.metrics.as_ref());
        }
        if !flushes_here {
            return None;
        }
        let deadline = match point {
            FinishPoint::HandlerReturned => invocation
                .deadline()
                .map(|d| d.checked_sub(RESPONSE_MARGIN).unwrap_or(d)),
            FinishPoint::ResponsePosted => invocation.deadline(),
        };
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
