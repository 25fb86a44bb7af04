//! What one flush exports, and the buffers the processors fill between flushes.

use super::worker::{ExportFailure, Reply, Worker};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Items held before new ones are dropped (a collector down for many invocations).
const MAX_BUFFERED: usize = 2048;
/// A long invocation that produces this many items exports them in the background right away.
const MAX_BATCH: usize = 512;

/// A log record and the scope of the logger that emitted it.
#[derive(Debug, Clone)]
pub(crate) struct LogEntry {
    pub record: SdkLogRecord,
    pub scope: InstrumentationScope,
}

/// One export job: every signal's share, exported side by side.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub spans: Vec<SpanData>,
    pub logs: Vec<LogEntry>,
    /// Whether to collect and export metrics.
    pub metrics: bool,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.logs.is_empty() && !self.metrics
    }
}

/// Something a processor buffers.
pub(crate) trait Item: Sized {
    fn into_batch(items: Vec<Self>) -> Batch;
}

impl Item for SpanData {
    fn into_batch(spans: Vec<Self>) -> Batch {
        Batch {
            spans,
            ..Batch::default()
        }
    }
}

impl Item for LogEntry {
    fn into_batch(logs: Vec<Self>) -> Batch {
        Batch {
            logs,
            ..Batch::default()
        }
    }
}

/// The items ended since the last flush, shared by a processor and the layer's flusher.
#[derive(Debug)]
pub(crate) struct Buffer<T> {
    items: Mutex<Vec<T>>,
    dropped: AtomicUsize,
    worker: Worker,
    export_timeout: Duration,
}

impl<T: Item> Buffer<T> {
    pub(crate) fn new(worker: Worker, export_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            items: Mutex::new(Vec::new()),
            dropped: AtomicUsize::new(0),
            worker,
            export_timeout,
        })
    }

    /// Takes every buffered item; empty (and allocation-free) when there is nothing to export.
    pub(crate) fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.lock())
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
        let mut items = self.lock();
        if items.len() >= MAX_BUFFERED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        items.push(item);
        if items.len() >= MAX_BATCH {
            let batch = T::into_batch(std::mem::take(&mut *items));
            drop(items);
            let deadline = Instant::now() + self.export_timeout;
            self.worker.export(batch, deadline, Reply::Detached);
        }
    }

    /// Exports what is buffered and waits for the answer, blocking the calling thread (the
    /// SDK's `force_flush`, never called by the layer).
    pub(crate) fn flush_blocking(&self, timeout: Option<Duration>) -> Result<(), ExportFailure> {
        let items = self.take();
        if items.is_empty() {
            return Ok(());
        }
        let timeout = timeout.unwrap_or(self.export_timeout);
        let report = self.worker.export_blocking(T::into_batch(items), timeout);
        match report.failures().next() {
            Some((_, failure)) => Err(failure.clone()),
            None => Ok(()),
        }
    }
}
