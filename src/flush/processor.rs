//! The span and log processors installed in the providers: buffer in memory, export when the
//! layer says so. No timer thread: a frozen process runs no timers.

use super::batch::LogEntry;
use super::buffer::Buffer;
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::sync::Arc;
use std::time::Duration;

fn sdk_result(result: Result<(), super::report::ExportFailure>) -> OTelSdkResult {
    result.map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
}

/// The [`SpanProcessor`] of the tracer provider: sampled spans go to the buffer.
#[derive(Debug)]
pub(crate) struct InvocationSpanProcessor {
    buffer: Arc<Buffer<SpanData>>,
}

impl InvocationSpanProcessor {
    pub(crate) fn new(buffer: Arc<Buffer<SpanData>>) -> Self {
        Self { buffer }
    }
}

impl SpanProcessor for InvocationSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.buffer.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        sdk_result(self.buffer.flush_blocking(None))
    }

    /// Exports what is left; the export thread itself is stopped by
    /// [`Telemetry::shutdown`](crate::Telemetry::shutdown), after every signal.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        sdk_result(self.buffer.flush_blocking(Some(timeout)))
    }
}

/// The [`LogProcessor`] of the logger provider: every record goes to the buffer.
#[derive(Debug)]
pub(crate) struct InvocationLogProcessor {
    buffer: Arc<Buffer<LogEntry>>,
}

impl InvocationLogProcessor {
    pub(crate) fn new(buffer: Arc<Buffer<LogEntry>>) -> Self {
        Self { buffer }
    }
}

impl LogProcessor for InvocationLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.buffer.push(LogEntry {
            record: record.clone(),
            scope: scope.clone(),
        });
    }

    fn force_flush(&self) -> OTelSdkResult {
        sdk_result(self.buffer.flush_blocking(None))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        sdk_result(self.buffer.flush_blocking(Some(timeout)))
    }
}
