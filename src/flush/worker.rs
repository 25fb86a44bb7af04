//! Where exports run: a flush's export in the flush's own future, on the caller's executor,
//! when it has no export under way to wait for and no exporter needs the export thread's
//! runtime (gRPC); the export thread, which owns the exporters too and runs every other export
//! at once, each to its own deadline (started when first needed, unless gRPC needs it from
//! the start); or, when no exporter ever waits on the network, the caller's own thread, in
//! the call.
//!
//! On the thread, jobs never queue behind each other: a flush is bounded by its own deadline
//! whatever else is under way (a background export of a long invocation, another invocation's
//! flush under `run_concurrent`). A flush also waits, within that same deadline, for the
//! background exports started before it, since they may carry its invocation's items. When
//! Lambda may freeze the process once the flush is over (one invocation at a time), those
//! still running at its deadline are cut off: nothing is left half-sent through a freeze.
//! When invocations run side by side (Lambda Managed Instances), the process is not frozen
//! between them, and a flush leaves them running to their own deadline: one invocation's
//! deadline never cuts off what another's items are in. The flush that ends an invocation
//! then tells the lambda-otel extension, once found, that the invocation's telemetry is out:
//! last, within the same deadline, wherever it ran.
//!
//! Every export reports what it lost, however it ends: failed, past its deadline, cut off, or
//! with an exporter that panicked.

use super::batch::Batch;
use super::job::{Deadline, Exporters, MetricsBuffer, export, export_owned};
use super::report::{ExportFailure, ExportReport, Reporter, Shape};
use crate::clock;
use crate::export::otlp::extension::{self, Extension};
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared, join_all};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc as queue, oneshot};
use tokio::task::AbortHandle;

/// Lambda Managed Instances' variable: the most invocations one process runs side by side.
/// `lambda_runtime`'s `run_concurrent` polls side by side when it is above 1.
const AWS_LAMBDA_MAX_CONCURRENCY: &str = "AWS_LAMBDA_MAX_CONCURRENCY";

/// Whether Lambda may freeze the process once a flush is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freeze {
    /// One invocation at a time: the process may freeze as soon as the flush that ends an
    /// invocation is over, so that flush leaves no export running.
    AfterEachFlush,
    /// Invocations side by side (Lambda Managed Instances, `run_concurrent`): the process is
    /// not frozen between invocations, and a flush cuts off no export but its own.
    Never,
}

impl Freeze {
    /// As `lambda_runtime` decides, from the process environment it reads itself (not through
    /// `with_env_lookup`, which it does not know): side by side when
    /// `AWS_LAMBDA_MAX_CONCURRENCY` is a number above 1.
    fn from_env() -> Self {
        let concurrency = std::env::var(AWS_LAMBDA_MAX_CONCURRENCY)
            .ok()
            .and_then(|v| v.parse::<u32>().ok());
        if concurrency.is_some_and(|n| n > 1) {
            Self::Never
        } else {
            Self::AfterEachFlush
        }
    }
}

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
        match self {
            // A receiver that gave up is fine: its caller already moved on.
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
    /// The export thread (see [`Thread`]); with [`Worker::caller_first`], flushes export on
    /// the caller's executor first.
    Thread(Arc<Thread>),
    /// The caller's thread: every exporter completes in the call (a UDP send to the X-Ray
    /// daemon, a write to stdout), so a thread hop would only add its cost, twice.
    Inline(Arc<Mutex<Inline>>),
}

/// The exporters of the inline route, and the metrics buffer the SDK refills in place.
struct Inline {
    exporters: Exporters,
    rm: MetricsBuffer,
}

/// The export thread: started with the worker when every flush exports there (gRPC), else at
/// its first job (see [`Worker::caller_first`]).
#[derive(Debug)]
struct Thread {
    /// Where jobs go, once the thread has started; `None` if it could not.
    jobs: OnceLock<Option<queue::UnboundedSender<Job>>>,
    exporters: Arc<Exporters>,
    freeze: Freeze,
    /// Whether a flush may run its export on the caller's executor ([`Worker::on_caller`]).
    on_caller: bool,
}

impl Thread {
    /// The thread's queue, starting the thread at the first call (its runtime built on it).
    /// `None` if it could not start (said once, as a warning).
    fn jobs(&self) -> Option<&queue::UnboundedSender<Job>> {
        let start = || {
            let (jobs, rx) = queue::unbounded_channel();
            let exporters = Arc::clone(&self.exporters);
            let freeze = self.freeze;
            // The runtime is built on the thread: a runtime dropped on the caller's (if the
            // thread could not start) would panic inside an async context.
            let started = spawn_thread(move || match export_runtime() {
                Ok(runtime) => run(exporters, runtime, rx, freeze),
                Err(error) => tracing::warn!(
                    target: "lambda_otel",
                    %error,
                    "the export thread cannot build its runtime: what it would export is lost"
                ),
            });
            if let Err(error) = &started {
                tracing::warn!(
                    target: "lambda_otel",
                    %error,
                    "the export thread cannot start: what it would export is lost"
                );
            }
            started.ok().map(|()| jobs)
        };
        self.jobs.get_or_init(start).as_ref()
    }
}

/// The export thread's runtime: one thread, with the IO and time drivers.
pub(crate) fn export_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("lambda-otel-export")
        .build()
}

fn spawn_thread(run: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("lambda-otel-export".into())
        .spawn(run)
        .map(drop)
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inline").finish_non_exhaustive()
    }
}

impl Worker {
    /// Starts the export thread, where every export runs: for gRPC, whose channels are
    /// tasks of `runtime`, the runtime the exporters were built in.
    pub(crate) fn spawn(
        exporters: Exporters,
        runtime: tokio::runtime::Runtime,
    ) -> std::io::Result<Self> {
        Self::spawn_with(exporters, runtime, Freeze::from_env())
    }

    pub(crate) fn spawn_with(
        exporters: Exporters,
        runtime: tokio::runtime::Runtime,
        freeze: Freeze,
    ) -> std::io::Result<Self> {
        // Unbounded, yet bounded by count: every export job holds its items' place in their
        // buffer's cap, and a flush is awaited before the next one starts.
        let (jobs, rx) = queue::unbounded_channel();
        let exporters = Arc::new(exporters);
        let thread = Thread {
            jobs: OnceLock::from(Some(jobs)),
            exporters: Arc::clone(&exporters),
            freeze,
            on_caller: false,
        };
        spawn_thread(move || run(exporters, runtime, rx, freeze))?;
        Ok(Self {
            route: Route::Thread(Arc::new(thread)),
        })
    }

    /// For exporters that can run on any executor with an IO driver (OTLP/HTTP, UDP, stdout):
    /// a flush runs its export on the caller's own executor ([`on_caller`](Self::on_caller)),
    /// and the export thread, with its runtime, starts only when first needed: a background
    /// export of a full buffer, a flush behind one, `force_flush`, shutdown with something to
    /// export. Most functions never start it.
    pub(crate) fn caller_first(exporters: Exporters) -> Self {
        Self::caller_first_with(exporters, Freeze::from_env())
    }

    pub(crate) fn caller_first_with(exporters: Exporters, freeze: Freeze) -> Self {
        Self {
            route: Route::Thread(Arc::new(Thread {
                jobs: OnceLock::new(),
                exporters: Arc::new(exporters),
                freeze,
                on_caller: true,
            })),
        }
    }

    /// The exporters, when a flush may run its export on the caller's own executor instead of
    /// the export thread ([`export_on_caller`]): every exporter allows it and the process
    /// clock, which keeps its deadline there, runs. Whether one does is the flush's choice:
    /// only when no export is under way on the thread, which it would have to wait for.
    pub(crate) fn on_caller(&self) -> Option<&Arc<Exporters>> {
        match &self.route {
            Route::Thread(thread) if thread.on_caller && clock::runs() => Some(&thread.exporters),
            _ => None,
        }
    }

    /// Whether the export thread runs (tests: a worker whose flushes all ran on the caller's
    /// executor never started it).
    #[cfg(test)]
    pub(crate) fn thread_started(&self) -> bool {
        match &self.route {
            Route::Thread(thread) => thread.jobs.get().is_some(),
            Route::Inline(_) => false,
        }
    }

    /// Exports on the caller's thread, for exporters whose export completes in the call (no
    /// OTLP: UDP datagrams, stdout lines): no thread, no runtime.
    pub(crate) fn inline(exporters: Exporters) -> Self {
        Self {
            route: Route::Inline(Arc::new(Mutex::new(Inline {
                exporters,
                rm: MetricsBuffer::default(),
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
                // answer, and with an OTLP exporter the worker is never inline.
                let mut inline = inline.lock().unwrap_or_else(|p| p.into_inner());
                let Inline { exporters, rm } = &mut *inline;
                // On the function's own thread: a panicking exporter loses its batch, not
                // the invocation.
                let export = AssertUnwindSafe(|| export(exporters, rm, batch, None).now_or_never());
                let report = match std::panic::catch_unwind(export) {
                    Ok(Some(report)) => report,
                    Ok(None) => ExportReport::failed(shape, ExportFailure::Timeout),
                    Err(_) => ExportReport::failed(shape, ExportFailure::Panicked),
                };
                drop(inline);
                reply.send(report);
            }
            Route::Thread(thread) => {
                let job = Job::Export {
                    batch,
                    deadline,
                    reply,
                };
                let refused = match thread.jobs() {
                    Some(jobs) => jobs.send(job).err().map(|e| e.0),
                    None => Some(job),
                };
                if let Some(Job::Export { reply, .. }) = refused {
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
            .unwrap_or_else(|e| {
                let failure = match e {
                    mpsc::RecvTimeoutError::Timeout => ExportFailure::Timeout,
                    // The thread dropped the job: it had stopped.
                    mpsc::RecvTimeoutError::Disconnected => ExportFailure::WorkerGone,
                };
                ExportReport::failed(shape, failure)
            })
    }

    /// Shuts the exporters down and stops the thread, within `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        match &self.route {
            Route::Inline(inline) => {
                let inline = inline.lock().unwrap_or_else(|p| p.into_inner());
                inline.exporters.shutdown(timeout);
                true
            }
            Route::Thread(thread) => match thread.jobs.get() {
                Some(Some(jobs)) => {
                    let (reply, done) = mpsc::sync_channel(1);
                    jobs.send(Job::Shutdown { timeout, reply }).is_ok()
                        && done.recv_timeout(timeout).is_ok()
                }
                // Never started (or could not): nothing runs there to wait for.
                Some(None) | None => {
                    thread.exporters.shutdown(timeout);
                    true
                }
            },
        }
    }
}

/// A background export under way, as the flushes after it see it: when it is over (however it
/// ended), and how to cut it off. Cheap to clone: every flush started while it runs waits for
/// it.
#[derive(Clone)]
struct Background {
    over: Shared<BoxFuture<'static, ()>>,
    abort: AbortHandle,
}

impl Background {
    /// Starts exporting `batch` in the background; its report goes to `reporter`.
    fn spawn(
        exporters: Arc<Exporters>,
        batch: Batch,
        deadline: tokio::time::Instant,
        reporter: Arc<Reporter>,
    ) -> Self {
        let shape = Shape::from(&batch);
        let unreported = Unreported {
            shape,
            reporter: Some(Arc::clone(&reporter)),
        };
        let task = tokio::spawn(async move {
            let deadline = Deadline::Thread(deadline);
            let report = unwind_safe(shape, export_owned(&exporters, batch, deadline)).await;
            unreported.reported();
            reporter.report(&report);
        });
        Self {
            abort: task.abort_handle(),
            // A task that ended in any way is over; how it ended, it reported itself.
            over: task.map(drop).boxed().shared(),
        }
    }
}

/// An export's batch, counted as lost if its future is dropped before it reported: a
/// background export cut off by a flush or left at shutdown, a flush on the caller's executor
/// dropped with it.
struct Unreported {
    shape: Shape,
    reporter: Option<Arc<Reporter>>,
}

impl Unreported {
    fn reported(mut self) {
        self.reporter = None;
    }
}

impl Drop for Unreported {
    fn drop(&mut self) {
        if let Some(reporter) = self.reporter.take() {
            reporter.report(&ExportReport::failed(self.shape, ExportFailure::Timeout));
        }
    }
}

/// `export`'s report, or, if an exporter panics, everything `shape` carries counted as lost:
/// the panic ends this export, not the task that reports it.
async fn unwind_safe(shape: Shape, export: impl Future<Output = ExportReport>) -> ExportReport {
    AssertUnwindSafe(export)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| ExportReport::failed(shape, ExportFailure::Panicked))
}

fn run(
    exporters: Arc<Exporters>,
    runtime: tokio::runtime::Runtime,
    mut jobs: queue::UnboundedReceiver<Job>,
    freeze: Freeze,
) {
    crate::export::otlp::enter_export_thread();
    runtime.block_on(async move {
        let mut background: Vec<Background> = Vec::new();
        while let Some(job) = jobs.recv().await {
            let (batch, deadline, reply) = match job {
                Job::Export {
                    batch,
                    deadline,
                    reply,
                } => (batch, tokio::time::Instant::from_std(deadline), reply),
                Job::Shutdown { timeout, reply } => {
                    // Background exports still under way get half the budget, then are cut
                    // off and counted: with the runtime gone, nothing would report them.
                    let start = tokio::time::Instant::now();
                    settle(&background, start + timeout / 2, Freeze::AfterEachFlush).await;
                    exporters.shutdown(timeout.saturating_sub(start.elapsed()));
                    let _ = reply.send(());
                    return;
                }
            };
            background.retain(|b| !b.abort.is_finished());
            let exporters = Arc::clone(&exporters);
            if let Reply::Detached(reporter) = reply {
                background.push(Background::spawn(exporters, batch, deadline, reporter));
                continue;
            }
            let before = background.clone();
            tokio::spawn(async move {
                let settled = settle(&before, deadline, freeze);
                let report = flush(&exporters, batch, Deadline::Thread(deadline), settled).await;
                reply.send(report);
            });
        }
    });
}

/// A flush's export on the caller's own executor, instead of the export thread: no hand-off
/// to the thread and back (two wake-ups, on Lambda's one CPU). Every deadline is kept by the
/// process clock, since that executor may have no timer; the exporters' own connections
/// (hyper's, for OTLP/HTTP) then live on that executor too. Only for a flush with no export
/// under way on the thread: it has none to wait for. Dropped unfinished (its executor shut
/// down, say), even before its first poll, it counts what it carried as lost, to `reporter`.
pub(crate) fn export_on_caller(
    exporters: Arc<Exporters>,
    batch: Batch,
    deadline: Instant,
    reporter: Arc<Reporter>,
) -> impl Future<Output = ExportReport> + Send + 'static {
    let unreported = Unreported {
        shape: Shape::from(&batch),
        reporter: Some(reporter),
    };
    async move {
        let report = flush(&exporters, batch, Deadline::Clock(deadline), async {}).await;
        unreported.reported();
        report
    }
}

/// A flush's export, wherever it runs: every signal side by side, then `settled` (the exports
/// it waits for), then the extension's mark, all by `deadline`. A panicking exporter loses
/// its batch, counted, not the flush.
async fn flush(
    exporters: &Exporters,
    mut batch: Batch,
    deadline: Deadline,
    settled: impl Future<Output = ()>,
) -> ExportReport {
    let shape = Shape::from(&batch);
    let mark = batch.mark.take();
    let mut report = unwind_safe(shape, export_owned(exporters, batch, deadline)).await;
    settled.await;
    // Looked up now: this flush's own exports may have found it.
    if let Some(request_id) = mark
        && let Some(extension) = extension::detected()
    {
        report.mark = Some(mark_flushed(extension, &request_id, deadline).await);
    }
    report
}

/// Waits for the background exports started before a flush, until its deadline. When the
/// process may freeze once the flush is over, those still running then are cut off (each
/// counts what it carried as lost); otherwise they go on to their own deadline.
async fn settle(background: &[Background], deadline: tokio::time::Instant, freeze: Freeze) {
    let over = || join_all(background.iter().map(|b| b.over.clone()));
    if tokio::time::timeout_at(deadline, over()).await.is_ok() || freeze == Freeze::Never {
        return;
    }
    for b in background {
        b.abort.abort();
    }
    // Quick: a cut-off task only has its export dropped, which reports the loss.
    over().await;
}

/// Tells `extension` that `request_id`'s telemetry is out, once every export of the flush is
/// over (done, failed or cut off), within what is left of the flush's deadline.
async fn mark_flushed(
    extension: &Extension,
    request_id: &str,
    deadline: Deadline,
) -> Result<(), String> {
    if deadline.passed() {
        return Err("the flush's deadline passed before the mark could be sent".to_owned());
    }
    let mark_flushed = extension.mark_flushed(request_id);
    deadline
        .bound(mark_flushed)
        .await
        .unwrap_or_else(|| Err("no answer to the mark before the flush's deadline".to_owned()))
}

#[cfg(test)]
mod tests;
