//! The log exporter: one JSON line per log record.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};
use serde::{Serialize, Serializer};

use super::json::{
    AnyJson, Attributes, Displayed, LineWriter, Rfc3339, console_constructors, sorted_resource,
};

/// A [`LogExporter`] that writes each log record as one JSON line, to stdout by default.
///
/// Install it with a simple (synchronous) log processor so records appear as
/// soon as they are emitted. See the [module docs](super) for the line format.
#[derive(Debug)]
pub struct ConsoleLogExporter {
    writer: LineWriter,
    /// Sorted by key; see `sorted_resource`.
    resource: Vec<KeyValue>,
}

console_constructors!(ConsoleLogExporter {
    resource: Vec::new(),
});

impl LogExporter for ConsoleLogExporter {
    fn export(
        &self,
        batch: LogBatch<'_>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let lines = batch
            .iter()
            .map(|(record, scope)| LogLine::new(record, &self.resource, scope.name()));
        std::future::ready(self.writer.write_lines(lines))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.writer.shutdown()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = sorted_resource(resource);
    }
}

/// The JSON shape of one record; field order here is the order on the line.
#[derive(Serialize)]
struct LogLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Rfc3339>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_timestamp: Option<Rfc3339>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity_text: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity_number: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<AnyJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<Displayed<TraceId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<Displayed<SpanId>>,
    attributes: LogAttributes<'a>,
    resource: Attributes<'a>,
    scope: &'a str,
}

impl<'a> LogLine<'a> {
    fn new(record: &'a SdkLogRecord, resource: &'a [KeyValue], scope: &'a str) -> Self {
        // The SDK attaches the current span's context even when that span is a
        // placeholder with invalid ids; all-zero ids would only mislead.
        let trace = record
            .trace_context()
            .filter(|trace| trace.trace_id != TraceId::INVALID);
        Self {
            timestamp: record.timestamp().map(Rfc3339),
            observed_timestamp: record.observed_timestamp().map(Rfc3339),
            severity_text: record.severity_text(),
            severity_number: record.severity_number().map(|severity| severity as i32),
            body: record.body().map(AnyJson),
            event_name: record.event_name(),
            target: record.target().map(|target| target.as_ref()),
            trace_id: trace.map(|trace| Displayed(trace.trace_id)),
            span_id: trace.map(|trace| Displayed(trace.span_id)),
            attributes: LogAttributes(record),
            resource: Attributes(resource),
            scope,
        }
    }
}

/// A record's attributes as a JSON object, in the order they were added.
struct LogAttributes<'a>(&'a SdkLogRecord);

impl Serialize for LogAttributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .attributes_iter()
                .map(|(key, value)| (key.as_str(), AnyJson(value))),
        )
    }
}

#[cfg(test)]
mod tests;
