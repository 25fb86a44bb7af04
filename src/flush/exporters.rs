//! The exporters the export thread owns, one per signal, behind object-safe wrappers: the SDK's
//! exporter traits return `impl Future`, and a function may mix OTLP and console exporters.

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::reader::SharedReader;
use crate::export::Loss;
use futures_util::FutureExt as _;

pub(crate) type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// A span export that can lose part of its batch (the X-Ray exporter counts what it could not
/// send); an SDK exporter's error loses the whole batch.
pub(crate) type SpanExportFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Loss>> + Send + 'a>>;

/// Why an SDK exporter's export failed, as the warning says it: an `InternalFailure`'s own
/// message (an OTLP exporter's names what failed and where), without the SDK's
/// "Operation failed: " before it.
pub(crate) fn reason(error: &OTelSdkError) -> String {
    match error {
        OTelSdkError::InternalFailure(message) => message.clone(),
        other => other.to_string(),
    }
}

/// A span exporter the export thread can hold without knowing its type.
pub(crate) trait ExportSpans: Send + Sync {
    fn export(&self, batch: Vec<SpanData>) -> SpanExportFuture<'_>;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

impl<E: SpanExporter + 'static> ExportSpans for E {
    fn export(&self, batch: Vec<SpanData>) -> SpanExportFuture<'_> {
        let lost = batch.len();
        Box::pin(SpanExporter::export(self, batch).map(move |result| {
            result.map_err(|e| Loss {
                lost,
                reason: reason(&e),
            })
        }))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        SpanExporter::shutdown_with_timeout(self, timeout)
    }
}

#[cfg(feature = "xray")]
impl ExportSpans for crate::export::xray::XrayExporter {
    fn export(&self, batch: Vec<SpanData>) -> SpanExportFuture<'_> {
        Box::pin(std::future::ready(
            crate::export::xray::XrayExporter::export(self, batch),
        ))
    }

    /// UDP holds nothing back: there is nothing to shut down.
    fn shutdown(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// A [`LogExporter`] the export thread can hold without knowing its type.
pub(crate) trait ExportLogs: Send + Sync {
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> ExportFuture<'a>;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

impl<E: LogExporter + 'static> ExportLogs for E {
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> ExportFuture<'a> {
        Box::pin(LogExporter::export(self, batch))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        LogExporter::shutdown_with_timeout(self, timeout)
    }
}

/// A [`PushMetricExporter`] the export thread can hold without knowing its type.
pub(crate) trait ExportMetrics: Send + Sync {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a>;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

impl<E: PushMetricExporter> ExportMetrics for E {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a> {
        Box::pin(PushMetricExporter::export(self, metrics))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        PushMetricExporter::shutdown_with_timeout(self, timeout)
    }
}

/// Metrics are collected from the reader on the export thread, then exported.
pub(crate) struct MetricsExport {
    pub exporter: Box<dyn ExportMetrics>,
    pub reader: SharedReader,
}

/// What the export thread exports to; `None` for a signal that is switched off.
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
