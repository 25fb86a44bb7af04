//! The export thread: owns the exporter, runs each export to its deadline.

use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Why an export did not reach the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExportFailure {
    /// The deadline passed first (collector slow, unreachable or not answering).
    Timeout(usize),
    /// The exporter returned an error (refused connection, HTTP error status...).
    Failed(usize, String),
    /// The export thread is gone.
    WorkerGone(usize),
    /// Spans were dropped because the buffer was full (the exports could not keep up).
    BufferFull(usize),
}

impl ExportFailure {
    pub(crate) fn spans(&self) -> usize {
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
            Self::BufferFull(_) => f.write_str("the span buffer was full"),
        }
    }
}

pub(crate) type ExportResult = Result<usize, ExportFailure>;

/// Where the answer to a job goes.
pub(crate) enum Reply {
    /// Awaited by the layer, on the function's executor.
    Async(oneshot::Sender<ExportResult>),
    /// Waited for by a blocking caller (`force_flush`, shutdown).
    Blocking(mpsc::SyncSender<ExportResult>),
    /// Nobody waits: a full buffer exported in the background during a long invocation.
    Detached,
}

impl Reply {
    fn send(self, result: ExportResult) {
        // A receiver that gave up is fine: its caller already moved on.
        match self {
            Self::Async(tx) => drop(tx.send(result)),
            Self::Blocking(tx) => drop(tx.send(result)),
            Self::Detached => {}
        }
    }
}

enum Job {
    Export {
        batch: Vec<SpanData>,
        deadline: Instant,
        reply: Reply,
    },
    Shutdown {
        timeout: Duration,
        reply: mpsc::SyncSender<()>,
    },
}

/// Handle to the export thread.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    tx: mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the thread. `runtime` must be the runtime the exporter was built in (gRPC
    /// channels spawn their background task on it).
    pub(crate) fn spawn<E: SpanExporter + 'static>(
        exporter: E,
        runtime: tokio::runtime::Runtime,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("lambda-otel-export".into())
            .spawn(move || run(exporter, runtime, rx))?;
        Ok(Self { tx })
    }

    pub(crate) fn export(&self, batch: Vec<SpanData>, deadline: Instant, reply: Reply) {
        let n = batch.len();
        if let Err(mpsc::SendError(job)) = self.tx.send(Job::Export {
            batch,
            deadline,
            reply,
        }) && let Job::Export { reply, .. } = job
        {
            reply.send(Err(ExportFailure::WorkerGone(n)));
        }
    }

    /// Exports what is queued, shuts the exporter down and stops the thread, within `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        let (reply, done) = mpsc::sync_channel(1);
        self.tx.send(Job::Shutdown { timeout, reply }).is_ok() && done.recv_timeout(timeout).is_ok()
    }
}

fn run<E: SpanExporter>(exporter: E, runtime: tokio::runtime::Runtime, jobs: mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Export {
                batch,
                deadline,
                reply,
            } => reply.send(export(&exporter, &runtime, batch, deadline)),
            Job::Shutdown { timeout, reply } => {
                // Errors at shutdown have nowhere to go: the process is ending.
                drop(exporter.shutdown_with_timeout(timeout));
                let _ = reply.send(());
                break;
            }
        }
    }
}

fn export<E: SpanExporter>(
    exporter: &E,
    runtime: &tokio::runtime::Runtime,
    batch: Vec<SpanData>,
    deadline: Instant,
) -> ExportResult {
    let n = batch.len();
    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
        return Err(ExportFailure::Timeout(n));
    };
    // Dropping the export future at the deadline cancels it and closes its connection.
    match runtime.block_on(async { tokio::time::timeout(left, exporter.export(batch)).await }) {
        Ok(Ok(())) => Ok(n),
        Ok(Err(e)) => Err(ExportFailure::Failed(n, e.to_string())),
        Err(_) => Err(ExportFailure::Timeout(n)),
    }
}
