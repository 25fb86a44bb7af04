//! Where exports run: the export thread, which owns the exporters and runs each export to its
//! deadline, or, when no exporter ever waits on the network, the caller's own thread.

use super::batch::{Batch, LogEntry};
use super::exporters::{Exporters, MetricsExport};
use crate::config::Signal;
use crate::export::Loss;
use futures_util::FutureExt as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader as _;
use std::future::Future;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Why an export did not reach the backend; the number is the items lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExportFailure {
    /// The deadline passed first (collector slow, unreachable or not answering).
    Timeout(usize),
    /// The exporter returned an error (refused connection, HTTP error status...).
    Failed(usize, String),
    /// The export thread is gone.
    WorkerGone(usize),
    /// Items were dropped because the buffer was full (the exports could not keep up).
    BufferFull(usize),
}

impl ExportFailure {
    pub(crate) fn lost(&self) -> usize {
        match self {
            Self::Timeout(n) | Self::Failed(n, _) | Self::WorkerGone(n) | Self::BufferFull(n) => *n,
        }
    }
}

impl std::fmt::Display for ExportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(_) => f.write_str("the export did not finish before its deadline"),
            Self::Failed(_, e) => write!(f, "the exporter failed: {e}"),
            Self::WorkerGone(_) => f.write_str("the export thread has stopped"),
            Self::BufferFull(_) => f.write_str("the buffer was full"),
        }
    }
}

/// The outcome of one signal's share of an export: the items exported.
pub(crate) type ExportResult = Result<usize, ExportFailure>;

/// The outcome of an export job, per signal; `None` for a signal the job did not carry.
#[derive(Debug, Default)]
pub(crate) struct ExportReport {
    pub spans: Option<ExportResult>,
    pub logs: Option<ExportResult>,
    pub metrics: Option<ExportResult>,
}

impl ExportReport {
    /// Every signal of `batch` failed the same way (no export thread, no answer in time).
    fn failed(shape: Shape, failure: fn(usize) -> ExportFailure) -> Self {
        let part = |n: usize, carried: bool| carried.then(|| Err(failure(n)));
        Self {
            spans: part(shape.spans, shape.spans > 0),
            logs: part(shape.logs, shape.logs > 0),
            metrics: part(1, shape.metrics),
        }
    }

    pub(crate) fn failures(&self) -> impl Iterator<Item = (Signal, &ExportFailure)> {
        [
            (Signal::Traces, &self.spans),
            (Signal::Logs, &self.logs),
            (Signal::Metrics, &self.metrics),
        ]
        .into_iter()
        .filter_map(|(signal, result)| match result {
            Some(Err(failure)) => Some((signal, failure)),
            _ => None,
        })
    }
}

/// How much a batch carries, kept to report on it once it is gone.
#[derive(Debug, Clone, Copy)]
struct Shape {
    spans: usize,
    logs: usize,
    metrics: bool,
}

impl From<&Batch> for Shape {
    fn from(batch: &Batch) -> Self {
        Self {
            spans: batch.spans.len(),
            logs: batch.logs.len(),
            metrics: batch.metrics,
        }
    }
}

/// Where the answer to a job goes.
pub(crate) enum Reply {
    /// Awaited by the layer, on the function's executor.
    Async(oneshot::Sender<ExportReport>),
    /// Waited for by a blocking caller (`force_flush`, shutdown).
    Blocking(mpsc::SyncSender<ExportReport>),
    /// Nobody waits: a full buffer exported in the background during a long invocation.
    Detached,
}

impl Reply {
    fn send(self, report: ExportReport) {
        // A receiver that gave up is fine: its caller already moved on.
        match self {
            Self::Async(tx) => drop(tx.send(report)),
            Self::Blocking(tx) => drop(tx.send(report)),
            Self::Detached => {}
        }
    }
}

enum Job {
    Export {
        batch: Batch,
        deadline: Instant,
        reply: Reply,
    },
    Shutdown {
        timeout: Duration,
        reply: mpsc::SyncSender<()>,
    },
}

/// Where exports run. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    route: Route,
}

#[derive(Debug, Clone)]
enum Route {
    /// The export thread.
    Thread(mpsc::Sender<Job>),
    /// The caller's thread: every exporter completes in the call (a UDP send to the X-Ray
    /// daemon, a write to stdout), so a thread hop would only add its cost, twice.
    Inline(Arc<Mutex<Inline>>),
}

/// The exporters of the inline route, and the metrics buffer the SDK refills in place.
struct Inline {
    exporters: Exporters,
    rm: ResourceMetrics,
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inline").finish_non_exhaustive()
    }
}

impl Worker {
    /// Starts the thread. `runtime` must be the runtime the exporters were built in (gRPC
    /// channels spawn their background task on it).
    pub(crate) fn spawn(
        exporters: Exporters,
        runtime: tokio::runtime::Runtime,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("lambda-otel-export".into())
            .spawn(move || run(exporters, runtime, rx))?;
        Ok(Self {
            route: Route::Thread(tx),
        })
    }

    /// Exports on the caller's thread, for exporters whose export completes in the call (no
    /// OTLP: UDP datagrams, stdout lines): no thread, no runtime.
    pub(crate) fn inline(exporters: Exporters) -> Self {
        Self {
            route: Route::Inline(Arc::new(Mutex::new(Inline {
                exporters,
                rm: ResourceMetrics::default(),
            }))),
        }
    }

    pub(crate) fn export(&self, batch: Batch, deadline: Instant, reply: Reply) {
        let shape = Shape::from(&batch);
        match &self.route {
            Route::Inline(inline) => {
                // As on the thread: nothing starts past the deadline (the invocation's). Once
                // started, nothing here waits: the export's cost is its CPU time, bounded by
                // the buffers' size. An export that would wait is reported as one that missed
                // the deadline.
                if deadline <= Instant::now() {
                    reply.send(ExportReport::failed(shape, ExportFailure::Timeout));
                    return;
                }
                let mut inline = inline.lock().unwrap_or_else(|p| p.into_inner());
                let Inline { exporters, rm } = &mut *inline;
                let report = export(exporters, rm, batch, None)
                    .now_or_never()
                    .unwrap_or_else(|| ExportReport::failed(shape, ExportFailure::Timeout));
                drop(inline);
                reply.send(report);
            }
            Route::Thread(tx) => {
                if let Err(mpsc::SendError(job)) = tx.send(Job::Export {
                    batch,
                    deadline,
                    reply,
                }) && let Job::Export { reply, .. } = job
                {
                    reply.send(ExportReport::failed(shape, ExportFailure::WorkerGone));
                }
            }
        }
    }

    /// Exports `batch` and waits for the report, blocking the calling thread.
    pub(crate) fn export_blocking(&self, batch: Batch, timeout: Duration) -> ExportReport {
        let shape = Shape::from(&batch);
        let (tx, rx) = mpsc::sync_channel(1);
        self.export(batch, Instant::now() + timeout, Reply::Blocking(tx));
        rx.recv_timeout(timeout + Duration::from_millis(50))
            .unwrap_or_else(|_| ExportReport::failed(shape, ExportFailure::Timeout))
    }

    /// Shuts the exporters down and stops the thread, within `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        match &self.route {
            Route::Inline(inline) => {
                let inline = inline.lock().unwrap_or_else(|p| p.into_inner());
                inline.exporters.shutdown(timeout);
                true
            }
            Route::Thread(tx) => {
                let (reply, done) = mpsc::sync_channel(1);
                tx.send(Job::Shutdown { timeout, reply }).is_ok()
                    && done.recv_timeout(timeout).is_ok()
            }
        }
    }
}

fn run(exporters: Exporters, runtime: tokio::runtime::Runtime, jobs: mpsc::Receiver<Job>) {
    // Reused from one collection to the next: the SDK refills it in place.
    let mut rm = ResourceMetrics::default();
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Export {
                batch,
                deadline,
                reply,
            } => {
                let deadline = Some(tokio::time::Instant::from_std(deadline));
                reply.send(runtime.block_on(export(&exporters, &mut rm, batch, deadline)));
            }
            Job::Shutdown { timeout, reply } => {
                exporters.shutdown(timeout);
                let _ = reply.send(());
                break;
            }
        }
    }
}

/// Exports every signal of `batch` side by side, each cancelled at `deadline` (which also
/// closes the connection of a collector that never answers); with no deadline, for the inline
/// route, nothing is waited for.
async fn export(
    exporters: &Exporters,
    rm: &mut ResourceMetrics,
    batch: Batch,
    deadline: Option<tokio::time::Instant>,
) -> ExportReport {
    let Batch {
        spans,
        logs,
        metrics: collect,
    } = batch;
    let collected = match (&exporters.metrics, collect) {
        (Some(MetricsExport { reader, .. }), true) => Some(reader.collect(rm)),
        _ => None,
    };
    let rm = &*rm;
    let spans = async {
        let exporter = exporters.spans.as_ref().filter(|_| !spans.is_empty())?;
        let n = spans.len();
        Some(bounded(deadline, n, exporter.export(spans)).await)
    };
    let logs = async {
        let exporter = exporters.logs.as_ref().filter(|_| !logs.is_empty())?;
        let n = logs.len();
        let export = export_logs(exporter.as_ref(), &logs);
        Some(bounded(deadline, n, whole(n, export)).await)
    };
    let metrics = async {
        let export = exporters.metrics.as_ref()?;
        Some(match collected? {
            Ok(()) => bounded(deadline, 1, whole(1, export.exporter.export(rm))).await,
            Err(e) => Err(ExportFailure::Failed(1, e.to_string())),
        })
    };
    let (spans, logs, metrics) = futures_util::future::join3(spans, logs, metrics).await;
    ExportReport {
        spans,
        logs,
        metrics,
    }
}

async fn export_logs(
    exporter: &dyn super::exporters::ExportLogs,
    logs: &[LogEntry],
) -> OTelSdkResult {
    let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
        logs.iter().map(|e| (&e.record, &e.scope)).collect();
    exporter.export(LogBatch::new(&refs)).await
}

/// An SDK exporter's export: an error loses all `n` items.
async fn whole(n: usize, export: impl Future<Output = OTelSdkResult>) -> Result<(), Loss> {
    export.await.map_err(|e| Loss {
        lost: n,
        reason: e.to_string(),
    })
}

async fn bounded(
    deadline: Option<tokio::time::Instant>,
    n: usize,
    export: impl Future<Output = Result<(), Loss>>,
) -> ExportResult {
    let result = match deadline {
        None => export.await,
        Some(deadline) if deadline <= tokio::time::Instant::now() => {
            return Err(ExportFailure::Timeout(n));
        }
        Some(deadline) => match tokio::time::timeout_at(deadline, export).await {
            Ok(result) => result,
            Err(_) => return Err(ExportFailure::Timeout(n)),
        },
    };
    result
        .map(|()| n)
        .map_err(|loss| ExportFailure::Failed(loss.lost, loss.reason))
}
