//! What the receiver, the Telemetry API listener and the forwarding loop share: the received
//! exports (bounded in bytes), the function's end-of-flush marks, the platform's `runtimeDone`
//! records, and the counts the extension reports.
//!
//! Everything runs on one current-thread runtime, so the lock is never contended for long; it
//! is held only to push or take, never across an await.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::config::Signal;

/// How many recent request ids are remembered per kind (marks, `runtimeDone`): a mark may
/// arrive before the extension has read the INVOKE it belongs to.
const REMEMBERED: usize = 64;

/// One export request as the function sent it: forwarded as these bytes.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) signal: Signal,
    /// `application/json` rather than `application/x-protobuf`.
    pub(crate) json: bool,
    /// `content-encoding: gzip`.
    pub(crate) gzip: bool,
    pub(crate) body: Bytes,
    pub(crate) received: Instant,
}

/// How an invocation ended, as far as the extension knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The function said its flush is done.
    Marked,
    /// The Telemetry API's `platform.runtimeDone`, with its status.
    RuntimeDone(String),
}

/// Counts reported in the extension's log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Export requests accepted from the function.
    pub(crate) received: u64,
    /// Requests refused because the buffer was full, and their bytes.
    pub(crate) refused: u64,
    pub(crate) refused_bytes: u64,
    /// Requests accepted for a signal with no endpoint (dropped on purpose).
    pub(crate) unrouted: u64,
    /// Requests sent to the backend and answered with success.
    pub(crate) forwarded: u64,
    /// Received requests lost in forwarding (failure, timeout).
    pub(crate) lost: u64,
}

#[derive(Debug, Default)]
struct Inner {
    batches: VecDeque<Batch>,
    bytes: usize,
    /// Batches ever buffered, and ever taken out (always from the front): the batch at the
    /// front is number `taken`, so a count of batches pushed names a place in the buffer.
    pushed: u64,
    taken: u64,
    /// The request ids the function marked, each with the number of batches pushed by then:
    /// everything its flush exported came before.
    marked: VecDeque<(String, u64)>,
    done: VecDeque<(String, String)>,
    reported: VecDeque<String>,
    counts: Counts,
}

/// The shared state; see the module documentation.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    capacity: usize,
    changed: Notify,
}

impl Shared {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; if something did, the data is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Buffers `batch`; `false` (and counted) when it does not fit.
    pub(crate) fn push(&self, batch: Batch) -> bool {
        let mut inner = self.lock();
        let size = batch.body.len();
        if inner.bytes + size > self.capacity {
            inner.counts.refused += 1;
            inner.counts.refused_bytes += size as u64;
            return false;
        }
        inner.bytes += size;
        inner.counts.received += 1;
        inner.pushed += 1;
        inner.batches.push_back(batch);
        drop(inner);
        self.changed.notify_waiters();
        true
    }

    /// Counts a request refused before its body was read (larger than the whole buffer).
    pub(crate) fn refuse_unread(&self) {
        self.lock().counts.refused += 1;
    }

    /// Counts a request accepted for a signal that goes nowhere.
    pub(crate) fn unrouted(&self) {
        self.lock().counts.unrouted += 1;
    }

    /// Everything buffered, oldest first; the buffer is empty afterwards.
    pub(crate) fn take(&self) -> Vec<Batch> {
        let mut inner = self.lock();
        inner.bytes = 0;
        inner.taken += inner.batches.len() as u64;
        inner.batches.drain(..).collect()
    }

    /// The batches that arrived before the function's mark of `request_id`, oldest first:
    /// that invocation's and earlier ones', without what a later invocation may already have
    /// exported (deferred mode reads an `INVOKE` while the function may be flushing it).
    /// Nothing when `request_id` was not marked.
    pub(crate) fn take_until_mark(&self, request_id: &str) -> Vec<Batch> {
        let mut inner = self.lock();
        let Some(&(_, pushed)) = inner.marked.iter().find(|(id, _)| id == request_id) else {
            return Vec::new();
        };
        let n = usize::try_from(pushed.saturating_sub(inner.taken))
            .unwrap_or(usize::MAX)
            .min(inner.batches.len());
        let taken: Vec<Batch> = inner.batches.drain(..n).collect();
        inner.taken += n as u64;
        inner.bytes -= taken.iter().map(|b| b.body.len()).sum::<usize>();
        taken
    }

    /// When the oldest buffered batch arrived.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        self.lock().batches.front().map(|b| b.received)
    }

    /// Whether anything is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().batches.is_empty()
    }

    /// Whether the buffer is at least half full.
    pub(crate) fn is_half_full(&self) -> bool {
        self.lock().bytes * 2 >= self.capacity
    }

    /// The function finished the flush of `request_id`.
    pub(crate) fn mark(&self, request_id: &str) {
        let mut inner = self.lock();
        let pushed = inner.pushed;
        remember(&mut inner.marked, (request_id.to_owned(), pushed));
        drop(inner);
        self.changed.notify_waiters();
    }

    /// The platform reported `runtimeDone` for `request_id` with `status`.
    pub(crate) fn runtime_done(&self, request_id: &str, status: &str) {
        let mut inner = self.lock();
        remember(&mut inner.done, (request_id.to_owned(), status.to_owned()));
        drop(inner);
        self.changed.notify_waiters();
    }

    /// The platform's `platform.report` for `request_id` arrived (its last record).
    pub(crate) fn reported(&self, request_id: &str) {
        let mut inner = self.lock();
        remember(&mut inner.reported, request_id.to_owned());
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Whether the platform's report of `request_id` arrived.
    pub(crate) fn is_reported(&self, request_id: &str) -> bool {
        self.lock().reported.iter().any(|id| id == request_id)
    }

    /// How `request_id` ended, if the extension has heard: the function's mark first.
    pub(crate) fn ended(&self, request_id: &str) -> Option<Ended> {
        let inner = self.lock();
        if inner.marked.iter().any(|(id, _)| id == request_id) {
            return Some(Ended::Marked);
        }
        inner
            .done
            .iter()
            .find(|(id, _)| id == request_id)
            .map(|(_, status)| Ended::RuntimeDone(status.clone()))
    }

    /// Adds forwarding results to the counts.
    pub(crate) fn forwarded(&self, forwarded: u64, lost: u64) {
        let mut inner = self.lock();
        inner.counts.forwarded += forwarded;
        inner.counts.lost += lost;
    }

    pub(crate) fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// Waits until `check` gives a value, looking again at every change (push, mark,
    /// `runtimeDone`, report); unbounded: callers put a timeout around it.
    pub(crate) async fn until<T>(&self, check: impl Fn(&Self) -> Option<T>) -> T {
        loop {
            let changed = self.changed();
            tokio::pin!(changed);
            // Registered before the check, so a change between the two is not missed.
            changed.as_mut().enable();
            if let Some(value) = check(self) {
                return value;
            }
            changed.await;
        }
    }

    /// Resolves at the next change (push, mark, `runtimeDone`) after this call; callers check
    /// their condition after creating it and before awaiting it.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

fn remember<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() == REMEMBERED {
        queue.pop_front();
    }
    queue.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_arrived_before_an_invocation_s_mark_is_taken_apart_from_what_came_after() {
        let sizes = |batches: Vec<Batch>| batches.iter().map(|b| b.body.len()).collect::<Vec<_>>();
        let shared = Shared::new(1000);
        assert!(shared.push(batch(10)) && shared.push(batch(20)));
        shared.mark("req-1");
        // The next invocation's exports, and its mark, before the extension reads its INVOKE.
        assert!(shared.push(batch(30)));
        shared.mark("req-2");
        assert!(shared.take_until_mark("req-0").is_empty(), "never marked");
        assert_eq!(sizes(shared.take_until_mark("req-1")), [10, 20]);
        assert!(shared.take_until_mark("req-1").is_empty(), "taken already");
        // 30 held of 1000: without the bytes taken freed, 60 would be, and 970 not fit.
        assert!(shared.push(batch(970)), "the bytes taken are free again");
        assert_eq!(sizes(shared.take_until_mark("req-2")), [30]);
        assert_eq!(sizes(shared.take()), [970]);
        assert!(shared.push(batch(50)));
        shared.mark("req-3");
        assert_eq!(sizes(shared.take_until_mark("req-3")), [50], "after a take");
    }

    fn batch(size: usize) -> Batch {
        Batch {
            signal: Signal::Traces,
            json: false,
            gzip: false,
            body: Bytes::from(vec![0; size]),
            received: Instant::now(),
        }
    }

    #[test]
    fn the_buffer_refuses_what_does_not_fit_and_counts_it() {
        let shared = Shared::new(100);
        assert!(shared.push(batch(60)));
        assert!(!shared.push(batch(50)));
        assert!(shared.push(batch(40)));
        let counts = shared.counts();
        assert_eq!(
            (counts.received, counts.refused, counts.refused_bytes),
            (2, 1, 50)
        );
        assert_eq!(shared.take().len(), 2);
        assert!(shared.push(batch(100)), "taking frees the space");
    }

    #[test]
    fn a_mark_wins_over_runtime_done_and_old_ids_are_forgotten() {
        let shared = Shared::new(100);
        shared.runtime_done("a", "success");
        assert_eq!(
            shared.ended("a"),
            Some(Ended::RuntimeDone("success".into()))
        );
        shared.mark("a");
        assert_eq!(shared.ended("a"), Some(Ended::Marked));
        for i in 0..REMEMBERED {
            shared.mark(&i.to_string());
        }
        assert_eq!(shared.ended("b"), None);
        assert_eq!(
            shared.ended("a"),
            Some(Ended::RuntimeDone("success".into())),
            "the mark was pushed out, the runtimeDone was not"
        );
    }
}
