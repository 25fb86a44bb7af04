//! The per-invocation flush, awaited by the layer.

use super::SpanBuffer;
use super::report::Reporter;
use super::worker::{ExportFailure, ExportResult, Reply};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Exports the buffered spans within a bound, without blocking the caller's executor.
#[derive(Debug, Clone)]
pub(crate) struct Flusher {
    buffer: Arc<SpanBuffer>,
    timeout: Duration,
    reporter: Arc<Reporter>,
}

impl Flusher {
    pub(crate) fn new(buffer: Arc<SpanBuffer>, timeout: Duration) -> Self {
        Self {
            buffer,
            timeout,
            reporter: Arc::default(),
        }
    }

    /// Hands every buffered span to the export thread, to be exported before the flush timeout
    /// or `hard_deadline` (the invocation's), whichever comes first. `None` when there is
    /// nothing to export: the common case costs one lock and no allocation.
    pub(crate) fn start(&self, hard_deadline: Option<Instant>) -> Option<PendingFlush> {
        let batch = self.buffer.take();
        if batch.is_empty() {
            return None;
        }
        let spans = batch.len();
        let mut deadline = Instant::now() + self.timeout;
        if let Some(hard) = hard_deadline {
            deadline = deadline.min(hard);
        }
        let (tx, rx) = oneshot::channel();
        self.buffer
            .worker()
            .export(batch, deadline, Reply::Async(tx));
        Some(PendingFlush {
            rx,
            spans,
            flusher: self.clone(),
        })
    }

    fn report(&self, result: ExportResult) {
        let dropped = self.buffer.take_dropped();
        match result {
            Ok(_) if dropped == 0 => self.reporter.success(),
            Ok(_) => self
                .reporter
                .failure(&ExportFailure::BufferFull(dropped), 0),
            Err(failure) => self.reporter.failure(&failure, dropped),
        }
    }
}

/// A flush under way: resolves when the export thread answers, which it does by the deadline.
#[derive(Debug)]
pub(crate) struct PendingFlush {
    rx: oneshot::Receiver<ExportResult>,
    spans: usize,
    flusher: Flusher,
}

impl Future for PendingFlush {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let result = ready!(Pin::new(&mut self.rx).poll(cx));
        let result = result.unwrap_or(Err(ExportFailure::WorkerGone(self.spans)));
        self.flusher.report(result);
        Poll::Ready(())
    }
}
