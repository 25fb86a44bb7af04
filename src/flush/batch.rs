//! What one export carries, and the items still on their way out.

#[cfg(feature = "logs")]
use opentelemetry::InstrumentationScope;
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A log record and the scope of the logger that emitted it.
#[cfg(feature = "logs")]
#[derive(Debug, Clone)]
pub(crate) struct LogEntry {
    pub record: SdkLogRecord,
    pub scope: InstrumentationScope,
}

/// One export job: every signal's share, exported side by side.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub spans: Vec<SpanData>,
    #[cfg(feature = "logs")]
    pub logs: Vec<LogEntry>,
    /// Whether to collect and export metrics (never without the `metrics` feature).
    pub metrics: bool,
    /// The batch's items still count against their buffers' caps until the export is over.
    pub held: Vec<Held>,
    /// The request id of the invocation this batch ends, for the lambda-otel extension's
    /// mark once every signal's export is over: only in the flush that ends an invocation,
    /// and only while the extension is there or may yet be found.
    pub mark: Option<Arc<str>>,
}

impl Batch {
    /// Whether there is nothing to export (a mark is no export).
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.log_count() == 0 && !self.metrics
    }

    /// The log records it carries.
    #[cfg(feature = "logs")]
    pub(crate) fn log_count(&self) -> usize {
        self.logs.len()
    }

    #[cfg(not(feature = "logs"))]
    pub(crate) fn log_count(&self) -> usize {
        0
    }
}

/// Something a processor buffers.
pub(crate) trait Item: Sized {
    fn into_batch(items: Vec<Self>, held: Held) -> Batch;
}

impl Item for SpanData {
    fn into_batch(spans: Vec<Self>, held: Held) -> Batch {
        Batch {
            spans,
            held: vec![held],
            ..Batch::default()
        }
    }
}

#[cfg(feature = "logs")]
impl Item for LogEntry {
    fn into_batch(logs: Vec<Self>, held: Held) -> Batch {
        Batch {
            logs,
            held: vec![held],
            ..Batch::default()
        }
    }
}

/// Items that left a buffer and whose export is not over: a buffer's cap counts them, so
/// memory is bounded by count whatever the exports queue up (a collector that never
/// answers). Dropping this, with the batch, when the export is over (done, failed or cut off)
/// gives their room back.
#[derive(Debug)]
pub(crate) struct Held {
    count: Arc<AtomicUsize>,
    n: usize,
}

impl Held {
    pub(crate) fn new(count: &Arc<AtomicUsize>, n: usize) -> Self {
        count.fetch_add(n, Ordering::Relaxed);
        Self {
            count: Arc::clone(count),
            n,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.count.fetch_sub(self.n, Ordering::Relaxed);
    }
}
