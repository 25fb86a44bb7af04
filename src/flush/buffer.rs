//! The buffers the processors fill between flushes, capped by count.

use super::batch::{Held, Item};
use super::report::{ExportFailure, Reporter};
use super::worker::{Reply, Worker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A long invocation that produces this many items exports them in the background right away.
const MAX_BATCH: usize = 512;

/// The items ended since the last flush, shared by a processor and the layer's flusher.
///
/// At most `cap` items (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE`), counting those
/// taken out whose export is not over: past it, new items are dropped and counted, as the
/// SDK's batch processors do with `max_queue_size`.
#[derive(Debug)]
pub(crate) struct Buffer<T> {
    items: Mutex<Vec<T>>,
    /// Items taken out whose export is not over (see [`Held`]).
    in_flight: Arc<AtomicUsize>,
    /// Of those, the items of background exports (a full buffer's, on the export thread): what
    /// a flush must wait for, there.
    background: Arc<AtomicUsize>,
    dropped: AtomicUsize,
    cap: usize,
    worker: Worker,
    export_timeout: Duration,
    /// Where the background exports' failures go.
    reporter: Arc<Reporter>,
}

impl<T: Item> Buffer<T> {
    pub(crate) fn new(
        worker: Worker,
        export_timeout: Duration,
        cap: usize,
        reporter: Arc<Reporter>,
    ) -> Arc<Self> {
        Arc::new(Self {
            items: Mutex::new(Vec::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            background: Arc::new(AtomicUsize::new(0)),
            dropped: AtomicUsize::new(0),
            cap: cap.max(1),
            worker,
            export_timeout,
            reporter,
        })
    }

    /// Takes every buffered item, with their place in the cap; empty (and allocation-free)
    /// when there is nothing to export.
    pub(crate) fn take(&self) -> (Vec<T>, Held) {
        let items = std::mem::take(&mut *self.lock());
        let held = Held::new(&self.in_flight, items.len());
        (items, held)
    }

    /// Items of background exports that are not over.
    pub(crate) fn in_background(&self) -> usize {
        self.background.load(Ordering::Relaxed)
    }

    /// Items dropped because the buffer was full, since the last call.
    pub(crate) fn take_dropped(&self) -> usize {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        // A panic while holding this lock cannot leave the Vec inconsistent: keep going.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn push(&self, item: T) {
        self.push_within(item, self.cap);
    }

    /// As [`push`](Self::push), past a full buffer: for an invocation's own span, which must
    /// not be the one the cap drops (it is what the invocation's other spans hang from). It
    /// takes its place in the cap like any other item, and memory stays bounded by count: at
    /// most twice the cap, whatever claims to be an invocation span.
    pub(crate) fn push_reserved(&self, item: T) {
        self.push_within(item, self.cap.saturating_mul(2));
    }

    fn push_within(&self, item: T, limit: usize) {
        let mut items = self.lock();
        if items.len() + self.in_flight.load(Ordering::Relaxed) >= limit {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        items.push(item);
        if items.len() >= MAX_BATCH.min(self.cap) {
            let taken = std::mem::take(&mut *items);
            let held = Held::new(&self.in_flight, taken.len());
            drop(items);
            let deadline = Instant::now() + self.export_timeout;
            let background = Held::new(&self.background, taken.len());
            let mut batch = T::into_batch(taken, held);
            batch.held.push(background);
            self.worker
                .export(batch, deadline, Reply::Detached(Arc::clone(&self.reporter)));
        }
    }

    /// Exports what is buffered and waits for the answer, blocking the calling thread (the
    /// SDK's `force_flush`, never called by the layer).
    pub(crate) fn flush_blocking(&self, timeout: Option<Duration>) -> Result<(), ExportFailure> {
        let (items, held) = self.take();
        if items.is_empty() {
            return Ok(());
        }
        let timeout = timeout.unwrap_or(self.export_timeout);
        let report = self
            .worker
            .export_blocking(T::into_batch(items, held), timeout);
        self.reporter.report(&report);
        match report.failures().next() {
            Some((_, failure)) => Err(failure.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flush::testing::{Hung, span, worker};
    use crate::flush::worker::Freeze;

    #[test]
    fn the_cap_counts_what_is_on_its_way_out_and_every_drop() {
        let worker = worker(Hung, Freeze::AfterEachFlush);
        // Nothing finishes for a minute: the first 100 leave in a background export that
        // hangs, and hold their place in the cap.
        let buffer = Buffer::new(worker, Duration::from_secs(60), 100, Arc::default());
        for _ in 0..1000 {
            buffer.push(span());
        }
        assert_eq!(buffer.take_dropped(), 900);
        assert!(buffer.take().0.is_empty());
        assert_eq!(buffer.in_flight.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn an_invocation_span_gets_past_a_full_buffer_within_a_second_cap() {
        let worker = worker(Hung, Freeze::AfterEachFlush);
        let buffer = Buffer::new(worker, Duration::from_secs(60), 100, Arc::default());
        for _ in 0..101 {
            buffer.push(span());
        }
        assert_eq!(buffer.take_dropped(), 1, "full");
        buffer.push_reserved(span());
        assert_eq!(buffer.take_dropped(), 0, "the invocation span got in");
        // 99 more fill the second cap's worth (one background export of 100 hangs, holding
        // its place): the next is dropped even if it claims to be an invocation span.
        for _ in 0..99 {
            buffer.push_reserved(span());
        }
        assert_eq!(buffer.take_dropped(), 0);
        buffer.push_reserved(span());
        assert_eq!(buffer.take_dropped(), 1);
        assert_eq!(buffer.in_flight.load(Ordering::Relaxed), 200);
    }
}
