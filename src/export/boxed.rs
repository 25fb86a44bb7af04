//! Every exporter behind one object-safe trait per signal, so the flush can hold whichever the
//! settings chose without knowing its type: the SDK's exporter traits return `impl Future`,
//! and a function may mix OTLP, X-Ray, EMF and console exporters.

use super::Loss;
use futures_util::FutureExt as _;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::{data::ResourceMetrics, exporter::PushMetricExporter};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[cfg(any(feature = "logs", feature = "metrics"))]
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

/// A span exporter the flush can hold without knowing its type.
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
impl ExportSpans for super::xray::XrayExporter {
    fn export(&self, batch: Vec<SpanData>) -> SpanExportFuture<'_> {
        Box::pin(std::future::ready(super::xray::XrayExporter::export(
            self, batch,
        )))
    }

    /// UDP holds nothing back: there is nothing to shut down.
    fn shutdown(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// A [`LogExporter`] the flush can hold without knowing its type.
#[cfg(feature = "logs")]
pub(crate) trait ExportLogs: Send + Sync {
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> ExportFuture<'a>;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

#[cfg(feature = "logs")]
impl<E: LogExporter + 'static> ExportLogs for E {
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> ExportFuture<'a> {
        Box::pin(LogExporter::export(self, batch))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        LogExporter::shutdown_with_timeout(self, timeout)
    }
}

/// A [`PushMetricExporter`] the flush can hold without knowing its type.
#[cfg(feature = "metrics")]
pub(crate) trait ExportMetrics: Send + Sync {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a>;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

#[cfg(feature = "metrics")]
impl<E: PushMetricExporter> ExportMetrics for E {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a> {
        Box::pin(PushMetricExporter::export(self, metrics))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        PushMetricExporter::shutdown_with_timeout(self, timeout)
    }
}
