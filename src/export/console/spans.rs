//! The span exporter: one JSON line per finished span.

use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Event, Link, SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde::{Serialize, Serializer};

use super::json::{
    Attributes, Displayed, LineWriter, Rfc3339, console_constructors, sorted_resource,
};

/// A [`SpanExporter`] that writes each span as one JSON line, to stdout by default.
///
/// Install it with a simple (synchronous) span processor so spans appear as soon
/// as they end. See the [module docs](super) for the line format.
#[derive(Debug)]
pub struct ConsoleExporter {
    writer: LineWriter,
    /// Sorted by key; see `sorted_resource`.
    resource: Vec<KeyValue>,
}

console_constructors!(ConsoleExporter {
    resource: Vec::new(),
});

impl SpanExporter for ConsoleExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let lines = batch.iter().map(|span| SpanLine::new(span, &self.resource));
        std::future::ready(self.writer.write_lines(lines))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.writer.shutdown()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.writer.flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = sorted_resource(resource);
    }
}

/// The JSON shape of one span; field order here is the order on the line.
#[derive(Serialize)]
struct SpanLine<'a> {
    name: &'a str,
    trace_id: Displayed<TraceId>,
    span_id: Displayed<SpanId>,
    parent_span_id: Option<Displayed<SpanId>>,
    kind: &'static str,
    start_time: Rfc3339,
    end_time: Rfc3339,
    duration_ns: u64,
    status: StatusLine<'a>,
    attributes: Attributes<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty", serialize_with = "events")]
    events: &'a [Event],
    #[serde(skip_serializing_if = "<[_]>::is_empty", serialize_with = "links")]
    links: &'a [Link],
    resource: Attributes<'a>,
    scope: &'a str,
}

impl<'a> SpanLine<'a> {
    fn new(span: &'a SpanData, resource: &'a [KeyValue]) -> Self {
        let context = &span.span_context;
        Self {
            name: &span.name,
            trace_id: Displayed(context.trace_id()),
            span_id: Displayed(context.span_id()),
            parent_span_id: (span.parent_span_id != SpanId::INVALID)
                .then_some(Displayed(span.parent_span_id)),
            kind: kind_name(&span.span_kind),
            start_time: Rfc3339(span.start_time),
            end_time: Rfc3339(span.end_time),
            duration_ns: duration_ns(span.start_time, span.end_time),
            status: StatusLine::new(&span.status),
            attributes: Attributes(&span.attributes),
            events: &span.events,
            links: &span.links,
            resource: Attributes(resource),
            scope: span.instrumentation_scope.name(),
        }
    }
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Internal => "internal",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

/// Wall clocks can step backwards between start and end; such a span reports 0
/// rather than failing the export.
fn duration_ns(start: SystemTime, end: SystemTime) -> u64 {
    let elapsed = end.duration_since(start).unwrap_or_default();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Serialize)]
struct StatusLine<'a> {
    code: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
}

impl<'a> StatusLine<'a> {
    fn new(status: &'a Status) -> Self {
        let (code, message) = match status {
            Status::Unset => ("unset", ""),
            Status::Ok => ("ok", ""),
            Status::Error { description } => ("error", description.as_ref()),
        };
        Self { code, message }
    }
}

/// Span events as a JSON array of `{name, time, attributes}`.
fn events<S: Serializer>(events: &&[Event], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(events.iter().map(|event| EventLine {
        name: &event.name,
        time: Rfc3339(event.timestamp),
        attributes: Attributes(&event.attributes),
    }))
}

#[derive(Serialize)]
struct EventLine<'a> {
    name: &'a str,
    time: Rfc3339,
    attributes: Attributes<'a>,
}

/// Span links as a JSON array of `{trace_id, span_id, attributes}`.
fn links<S: Serializer>(links: &&[Link], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(links.iter().map(|link| LinkLine {
        trace_id: Displayed(link.span_context.trace_id()),
        span_id: Displayed(link.span_context.span_id()),
        attributes: Attributes(&link.attributes),
    }))
}

#[derive(Serialize)]
struct LinkLine<'a> {
    trace_id: Displayed<TraceId>,
    span_id: Displayed<SpanId>,
    attributes: Attributes<'a>,
}

#[cfg(test)]
mod tests;
