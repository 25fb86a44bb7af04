//! A span processor for Lambda: buffer in memory, export when the layer says so.

use super::worker::{ExportResult, Reply, Worker};
use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

/// Spans held before the oldest are dropped (a collector down for many invocations).
const MAX_BUFFERED: usize = 2048;
/// A long invocation that ends this many spans exports them in the background right away.
const MAX_BATCH: usize = 512;

/// The spans ended since the last flush, shared by the processor and the layer's flusher.
#[derive(Debug)]
pub(crate) struct SpanBuffer {
    spans: Mutex<Vec<SpanData>>,
    dropped: AtomicUsize,
    worker: Worker,
    export_timeout: Duration,
}

impl SpanBuffer {
    pub(crate) fn new(worker: Worker, export_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            spans: Mutex::new(Vec::new()),
            dropped: AtomicUsize::new(0),
            worker,
            export_timeout,
        })
    }

    pub(crate) fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Takes every buffered span; empty (and allocation-free) when there is nothing to export.
    pub(crate) fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut *self.lock())
    }

    /// Spans dropped because the buffer was full, since the last call.
    pub(crate) fn take_dropped(&self) -> usize {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<SpanData>> {
        // A panic while holding this lock cannot leave the Vec inconsistent: keep going.
        self.spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, span: SpanData) {
        let mut spans = self.lock();
        if spans.len() >= MAX_BUFFERED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        spans.push(span);
        if spans.len() >= MAX_BATCH {
            let batch = std::mem::take(&mut *spans);
            drop(spans);
            let deadline = Instant::now() + self.export_timeout;
            self.worker.export(batch, deadline, Reply::Detached);
        }
    }

    /// Exports what is buffered and waits for the answer, blocking the calling thread.
    fn flush_blocking(&self, timeout: Duration) -> ExportResult {
        let batch = self.take();
        if batch.is_empty() {
            return Ok(0);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.worker
            .export(batch, Instant::now() + timeout, Reply::Blocking(tx));
        rx.recv_timeout(timeout + Duration::from_millis(50))
            .unwrap_or(Err(super::worker::ExportFailure::Timeout(0)))
    }
}

/// The [`SpanProcessor`] installed in the tracer provider: sampled spans go to the buffer.
#[derive(Debug)]
pub(crate) struct InvocationSpanProcessor {
    buffer: Arc<SpanBuffer>,
}

impl InvocationSpanProcessor {
    pub(crate) fn new(buffer: Arc<SpanBuffer>) -> Self {
        Self { buffer }
    }
}

impl SpanProcessor for InvocationSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.buffer.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.buffer
            .flush_blocking(self.buffer.export_timeout)
            .map(drop)
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let flushed = self.buffer.flush_blocking(timeout / 2);
        let stopped = self.buffer.worker.shutdown(timeout / 2);
        match (flushed, stopped) {
            (Ok(_), true) => Ok(()),
            (Err(e), _) => Err(OTelSdkError::InternalFailure(e.to_string())),
            (Ok(_), false) => Err(OTelSdkError::Timeout(timeout)),
        }
    }
}
