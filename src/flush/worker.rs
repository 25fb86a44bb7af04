//! Where exports run: the export thread, which owns the exporters and runs every export at
//! once, each to its own deadline; or, when no exporter ever waits on the network, the
//! caller's own thread.
//!
//! On the thread, jobs never queue behind each other: a flush is bounded by its own deadline
//! whatever else is under way (a background export of a long invocation, another invocation's
//! flush under `run_concurrent`). A flush also waits, within that same deadline, for the
//! background exports started before it, and cuts off (and counts as lost) those still
//! running at its deadline: nothing is left half-sent when the runtime asks for the next event
//! and Lambda may freeze the process. The flush that ends an invocation then tells the
//! lambda-otel extension, once found, that the invocation's telemetry is out: last, within the
//! same deadline.

use super::batch::{Batch, LogEntry};
use super::exporters::{Exporters, MetricsExport};
use super::report::{ExportFailure, ExportReport, ExportResult, Reporter, Shape};
use crate::export::Loss;
use crate::export::otlp::extension::{self, Extension};
use futures_util::FutureExt as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader as _;
use std::future::Future;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc as queue, oneshot};
use tokio::task::JoinHandle;

/// Where the answer to a job goes.
pub(crate) enum Reply {
    /// Awaited by the layer, on the function's executor.
    Async(oneshot::Sender<ExportReport>),
    /// Waited for by a blocking caller (`force_flush`, shutdown).
    Blocking(mpsc::SyncSender<ExportReport>),
    /// Nobody waits: a full buffer exported in the background during a long invocation. Its
    /// failures go to the reporter like any other.
    Detached(Arc<Reporter>),
}

impl Reply {
    fn send(self, report: ExportReport) {
        // A receiver that gave up is fine: its caller already moved on.
        match self {
            Self::Async(tx) => drop(tx.send(report)),
            Self::Blocking(tx) => drop(tx.send(report)),
            Self::Detached(reporter) => reporter.report(&report),
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
    Thread(queue::UnboundedSender<Job>),
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
        // Unbounded, yet bounded by count: every export job holds its items' place in their
        // buffer's cap, and a flush is awaited before the next one starts.
        let (tx, rx) = queue::unbounded_channel();
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
                // A batch here carries no mark: the extension is found by an OTLP/HTTP
                // answer, and with an OTLP exporter the exports run on the thread.
                let mut inline = inline.lock().unwrap_or_else(|p| p.into_inner());
                let Inline { exporters, rm } = &mut *inline;
                let report = export(exporters, rm, batch, None)
                    .now_or_never()
                    .unwrap_or_else(|| ExportReport::failed(shape, ExportFailure::Timeout));
                drop(inline);
                reply.send(report);
            }
            Route::Thread(tx) => {
                if let Err(queue::error::SendError(job)) = tx.send(Job::Export {
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

/// A background export under way, and what it carries (to count it if it is cut off).
struct Background {
    task: JoinHandle<()>,
    shape: Shape,
    reporter: Arc<Reporter>,
}

fn run(
    exporters: Exporters,
    runtime: tokio::runtime::Runtime,
    mut jobs: queue::UnboundedReceiver<Job>,
) {
    let exporters = Arc::new(exporters);
    runtime.block_on(async move {
        let mut background: Vec<Background> = Vec::new();
        while let Some(job) = jobs.recv().await {
            let (mut batch, deadline, reply) = match job {
                Job::Export {
                    batch,
                    deadline,
                    reply,
                } => (batch, tokio::time::Instant::from_std(deadline), reply),
                Job::Shutdown { timeout, reply } => {
                    // Background exports still under way get half the budget, then are cut
                    // off and counted: with the runtime gone, nothing would report them.
                    let start = tokio::time::Instant::now();
                    settle(std::mem::take(&mut background), start + timeout / 2).await;
                    exporters.shutdown(timeout.saturating_sub(start.elapsed()));
                    let _ = reply.send(());
                    return;
                }
            };
            background.retain(|b| !b.task.is_finished());
            let exporters = Arc::clone(&exporters);
            if let Reply::Detached(reporter) = &reply {
                let (shape, reporter) = (Shape::from(&batch), Arc::clone(reporter));
                let task = tokio::spawn(async move {
                    reply.send(export_owned(&exporters, batch, Some(deadline)).await);
                });
                background.push(Background {
                    task,
                    shape,
                    reporter,
                });
            } else {
                let before = std::mem::take(&mut background);
                let mark = batch.mark.take();
                tokio::spawn(async move {
                    let mut report = export_owned(&exporters, batch, Some(deadline)).await;
                    settle(before, deadline).await;
                    // Looked up now: this flush's own exports may have found it.
                    if let Some(request_id) = mark
                        && let Some(extension) = extension::detected()
                    {
                        report.mark = Some(mark_flushed(extension, &request_id, deadline).await);
                    }
                    reply.send(report);
                });
            }
        }
    });
}

/// [`export`] with a metrics buffer of its own: exports run side by side.
async fn export_owned(
    exporters: &Exporters,
    batch: Batch,
    deadline: Option<tokio::time::Instant>,
) -> ExportReport {
    let mut rm = ResourceMetrics::default();
    export(exporters, &mut rm, batch, deadline).await
}

/// Waits for the background exports started before a flush, until its deadline; those still
/// running then are cut off, and what they carried is counted as lost.
async fn settle(background: Vec<Background>, deadline: tokio::time::Instant) {
    for Background {
        mut task,
        shape,
        reporter,
    } in background
    {
        if tokio::time::timeout_at(deadline, &mut task).await.is_ok() {
            continue;
        }
        task.abort();
        // A task that finished between the timeout and the abort has reported itself.
        if task.await.is_err() {
            reporter.report(&ExportReport::failed(shape, ExportFailure::Timeout));
        }
    }
}

/// Tells `extension` that `request_id`'s telemetry is out, once every export of the flush is
/// over (done, failed or cut off), within what is left of the flush's deadline.
async fn mark_flushed(
    extension: &Extension,
    request_id: &str,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    if deadline <= tokio::time::Instant::now() {
        return Err("the flush's deadline passed before the mark could be sent".to_owned());
    }
    let mark_flushed = extension.mark_flushed(request_id);
    tokio::time::timeout_at(deadline, mark_flushed)
        .await
        .unwrap_or_else(|_| Err("no answer to the mark before the flush's deadline".to_owned()))
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
        held: _held,
        mark: _,
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
        mark: None,
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
        reason: super::exporters::reason(&e),
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
