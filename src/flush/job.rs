//! One export job: the exporters the flush owns, one per signal, and the export of a batch's
//! signals side by side, each bounded by the job's deadline.

use super::batch::Batch;
#[cfg(feature = "logs")]
use super::batch::LogEntry;
#[cfg(feature = "metrics")]
use super::reader::SharedReader;
use super::report::{ExportFailure, ExportReport, ExportResult};
use crate::clock;
use crate::export::Loss;
#[cfg(feature = "logs")]
use crate::export::boxed::ExportLogs;
#[cfg(feature = "metrics")]
use crate::export::boxed::ExportMetrics;
use crate::export::boxed::ExportSpans;
#[cfg(any(feature = "logs", feature = "metrics"))]
use crate::export::boxed::reason;
#[cfg(feature = "logs")]
use opentelemetry::InstrumentationScope;
#[cfg(any(feature = "logs", feature = "metrics"))]
use opentelemetry_sdk::error::OTelSdkResult;
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord};
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::{data::ResourceMetrics, reader::MetricReader as _};
use std::future::Future;
use std::time::{Duration, Instant};

/// An export's deadline, and what keeps it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Deadline {
    /// On the export thread: its runtime's timer.
    Thread(tokio::time::Instant),
    /// On the function's own executor, which may have no timer: the process clock
    /// ([`clock`](crate::clock)).
    Clock(Instant),
}

impl Deadline {
    pub(crate) fn passed(self) -> bool {
        match self {
            Self::Thread(at) => at <= tokio::time::Instant::now(),
            Self::Clock(at) => at <= Instant::now(),
        }
    }

    /// `future`'s output, or `None` if it has not come by the deadline (then it is dropped,
    /// which cancels it); `None` at once for a deadline already past.
    pub(crate) async fn bound<F: Future>(self, future: F) -> Option<F::Output> {
        match self {
            Self::Thread(_) if self.passed() => None,
            Self::Thread(at) => tokio::time::timeout_at(at, future).await.ok(),
            Self::Clock(at) => clock::before(at, future).await,
        }
    }
}

/// What the SDK collects the metrics into, refilled in place by every collection: nothing
/// without the `metrics` feature.
#[cfg(feature = "metrics")]
pub(crate) type MetricsBuffer = ResourceMetrics;
#[cfg(not(feature = "metrics"))]
#[derive(Debug, Default)]
pub(crate) struct MetricsBuffer {}

/// Metrics are collected from the reader by the flush, then exported.
#[cfg(feature = "metrics")]
pub(crate) struct MetricsExport {
    pub exporter: Box<dyn ExportMetrics>,
    pub reader: SharedReader,
}

/// What the flush exports to; `None` for a signal that is switched off.
#[derive(Default)]
pub(crate) struct Exporters {
    pub spans: Option<Box<dyn ExportSpans>>,
    #[cfg(feature = "logs")]
    pub logs: Option<Box<dyn ExportLogs>>,
    #[cfg(feature = "metrics")]
    pub metrics: Option<MetricsExport>,
}

impl std::fmt::Debug for Exporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporters").finish_non_exhaustive()
    }
}

impl Exporters {
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(feature = "logs")]
        if self.logs.is_some() {
            return false;
        }
        #[cfg(feature = "metrics")]
        if self.metrics.is_some() {
            return false;
        }
        self.spans.is_none()
    }

    /// Errors at shutdown have nowhere to go: the process is ending.
    pub(crate) fn shutdown(&self, timeout: Duration) {
        if let Some(spans) = &self.spans {
            drop(spans.shutdown(timeout));
        }
        #[cfg(feature = "logs")]
        if let Some(logs) = &self.logs {
            drop(logs.shutdown(timeout));
        }
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            drop(metrics.exporter.shutdown(timeout));
        }
    }
}

/// [`export`] bounded by `deadline`, with a metrics buffer of its own: exports run side by
/// side.
pub(crate) async fn export_owned(
    exporters: &Exporters,
    batch: Batch,
    deadline: Deadline,
) -> ExportReport {
    let mut rm = MetricsBuffer::default();
    export(exporters, &mut rm, batch, Some(deadline)).await
}

/// Exports every signal of `batch` side by side, each cancelled at `deadline` (which also
/// closes the connection of a collector that never answers); with no deadline, for the inline
/// route, nothing is waited for.
pub(crate) async fn export(
    exporters: &Exporters,
    rm: &mut MetricsBuffer,
    batch: Batch,
    deadline: Option<Deadline>,
) -> ExportReport {
    let metrics = metrics(exporters, rm, batch.metrics, deadline);
    let Batch {
        spans,
        #[cfg(feature = "logs")]
        logs,
        held: _held,
        ..
    } = batch;
    let spans = async {
        let exporter = exporters.spans.as_ref().filter(|_| !spans.is_empty())?;
        let n = spans.len();
        Some(bounded(deadline, n, exporter.export(spans)).await)
    };
    #[cfg(feature = "logs")]
    let logs = async {
        let exporter = exporters.logs.as_ref().filter(|_| !logs.is_empty())?;
        let n = logs.len();
        let export = export_logs(exporter.as_ref(), &logs);
        Some(bounded(deadline, n, whole(n, export)).await)
    };
    #[cfg(not(feature = "logs"))]
    let logs = std::future::ready(None);
    let (spans, logs, metrics) = futures_util::future::join3(spans, logs, metrics).await;
    ExportReport {
        spans,
        logs,
        metrics,
        mark: None,
    }
}

/// The metrics' share of an export: collected now (when `collect`), exported side by side
/// with the other signals.
#[cfg(feature = "metrics")]
fn metrics<'a>(
    exporters: &'a Exporters,
    rm: &'a mut ResourceMetrics,
    collect: bool,
    deadline: Option<Deadline>,
) -> impl Future<Output = Option<ExportResult>> + 'a {
    let collected = match (&exporters.metrics, collect) {
        (Some(MetricsExport { reader, .. }), true) => Some(reader.collect(rm)),
        _ => None,
    };
    let rm = &*rm;
    async move {
        let export = exporters.metrics.as_ref()?;
        Some(match collected? {
            Ok(()) => bounded(deadline, 1, whole(1, export.exporter.export(rm))).await,
            Err(e) => Err(ExportFailure::Failed(1, e.to_string())),
        })
    }
}

/// Without the `metrics` feature there is nothing to collect.
#[cfg(not(feature = "metrics"))]
fn metrics(
    _: &Exporters,
    _: &mut MetricsBuffer,
    _: bool,
    _: Option<Deadline>,
) -> std::future::Ready<Option<ExportResult>> {
    std::future::ready(None)
}

#[cfg(feature = "logs")]
async fn export_logs(exporter: &dyn ExportLogs, logs: &[LogEntry]) -> OTelSdkResult {
    let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
        logs.iter().map(|e| (&e.record, &e.scope)).collect();
    exporter.export(LogBatch::new(&refs)).await
}

/// An SDK exporter's export: an error loses all `n` items.
#[cfg(any(feature = "logs", feature = "metrics"))]
async fn whole(n: usize, export: impl Future<Output = OTelSdkResult>) -> Result<(), Loss> {
    export.await.map_err(|e| Loss {
        lost: n,
        reason: reason(&e),
    })
}

async fn bounded(
    deadline: Option<Deadline>,
    n: usize,
    export: impl Future<Output = Result<(), Loss>>,
) -> ExportResult {
    let result = match deadline {
        None => export.await,
        Some(deadline) => match deadline.bound(export).await {
            Some(result) => result,
            None => return Err(ExportFailure::Timeout(n)),
        },
    };
    result
        .map(|()| n)
        .map_err(|loss| ExportFailure::Failed(loss.lost, loss.reason))
}
