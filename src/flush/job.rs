//! One export job: the exporters the flush owns, one per signal, and the export of a batch's
//! signals side by side, each bounded by the job's deadline.

use super::batch::{Batch, LogEntry};
use super::reader::SharedReader;
use super::report::{ExportFailure, ExportReport, ExportResult};
use crate::export::Loss;
use crate::export::boxed::{ExportLogs, ExportMetrics, ExportSpans, reason};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader as _;
use std::future::Future;
use std::time::Duration;

/// Metrics are collected from the reader by the flush, then exported.
pub(crate) struct MetricsExport {
    pub exporter: Box<dyn ExportMetrics>,
    pub reader: SharedReader,
}

/// What the flush exports to; `None` for a signal that is switched off.
#[derive(Default)]
pub(crate) struct Exporters {
    pub spans: Option<Box<dyn ExportSpans>>,
    pub logs: Option<Box<dyn ExportLogs>>,
    pub metrics: Option<MetricsExport>,
}

impl Exporters {
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_none() && self.logs.is_none() && self.metrics.is_none()
    }

    /// Errors at shutdown have nowhere to go: the process is ending.
    pub(crate) fn shutdown(&self, timeout: Duration) {
        if let Some(spans) = &self.spans {
            drop(spans.shutdown(timeout));
        }
        if let Some(logs) = &self.logs {
            drop(logs.shutdown(timeout));
        }
        if let Some(metrics) = &self.metrics {
            drop(metrics.exporter.shutdown(timeout));
        }
    }
}

/// [`export`] with a metrics buffer of its own: exports run side by side.
pub(crate) async fn export_owned(
    exporters: &Exporters,
    batch: Batch,
    deadline: Option<tokio::time::Instant>,
) -> ExportReport {
    let mut rm = ResourceMetrics::default();
    export(exporters, &mut rm, batch, deadline).await
}

/// Exports every signal of `batch` side by side, each cancelled at `deadline` (which also
/// closes the connection of a collector that never answers); with no deadline, for the inline
/// route, nothing is waited for.
pub(crate) async fn export(
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

async fn export_logs(exporter: &dyn ExportLogs, logs: &[LogEntry]) -> OTelSdkResult {
    let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
        logs.iter().map(|e| (&e.record, &e.scope)).collect();
    exporter.export(LogBatch::new(&refs)).await
}

/// An SDK exporter's export: an error loses all `n` items.
async fn whole(n: usize, export: impl Future<Output = OTelSdkResult>) -> Result<(), Loss> {
    export.await.map_err(|e| Loss {
        lost: n,
        reason: reason(&e),
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
