//! The span and log processors installed in the providers: buffer in memory, export when the
//! layer says so. No timer thread: a frozen process runs no timers.

#[cfg(feature = "logs")]
use super::batch::LogEntry;
use super::buffer::Buffer;
use crate::attributes::truncate;
#[cfg(feature = "logs")]
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::SpanId;
use opentelemetry::{Array, Context, StringValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_semantic_conventions::attribute::FAAS_INVOCATION_ID;
use std::sync::Arc;
use std::time::Duration;

fn sdk_result(result: Result<(), super::report::ExportFailure>) -> OTelSdkResult {
    result.map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
}

/// The [`SpanProcessor`] of the tracer provider: sampled spans go to the buffer, their string
/// attribute values cut to the length limit.
#[derive(Debug)]
pub(crate) struct InvocationSpanProcessor {
    buffer: Arc<Buffer<SpanData>>,
    /// The most bytes of a string attribute value.
    value_limit: usize,
}

impl InvocationSpanProcessor {
    pub(crate) fn new(buffer: Arc<Buffer<SpanData>>, value_limit: usize) -> Self {
        Self {
            buffer,
            value_limit,
        }
    }
}

/// Cuts every string value of `span`'s attributes, its events' and its links' to `limit`
/// bytes. The SDK bounds how many attributes a span holds, not how long they are.
fn limit_values(span: &mut SpanData, limit: usize) {
    let events = span.events.events.iter_mut().map(|e| &mut e.attributes);
    let links = span.links.links.iter_mut().map(|l| &mut l.attributes);
    for attributes in std::iter::once(&mut span.attributes)
        .chain(events)
        .chain(links)
    {
        for kv in attributes.iter_mut() {
            limit_value(&mut kv.value, limit);
        }
    }
}

/// Whether `span` is an invocation's own span: the root of the invocation's spans in this
/// process (no parent, or a remote one), with the invocation's id. A child span stops at the
/// first test.
fn is_invocation_span(span: &SpanData) -> bool {
    let root = span.parent_span_is_remote || span.parent_span_id == SpanId::INVALID;
    root && span
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == FAAS_INVOCATION_ID)
}

fn limit_value(value: &mut Value, limit: usize) {
    let cut = |s: &mut StringValue| {
        if s.as_str().len() > limit {
            *s = truncate(s.as_str(), limit).to_owned().into();
        }
    };
    match value {
        Value::String(s) => cut(s),
        Value::Array(Array::String(strings)) => strings.iter_mut().for_each(cut),
        _ => {}
    }
}

impl SpanProcessor for InvocationSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        limit_values(&mut span, self.value_limit);
        if is_invocation_span(&span) {
            self.buffer.push_reserved(span);
        } else {
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
#[cfg(feature = "logs")]
#[derive(Debug)]
pub(crate) struct InvocationLogProcessor {
    buffer: Arc<Buffer<LogEntry>>,
}

#[cfg(feature = "logs")]
impl InvocationLogProcessor {
    pub(crate) fn new(buffer: Arc<Buffer<LogEntry>>) -> Self {
        Self { buffer }
    }
}

#[cfg(feature = "logs")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::borrow::Cow;
    use std::time::SystemTime;

    fn span(attributes: Vec<KeyValue>) -> SpanData {
        let context = SpanContext::empty_context();
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "exception",
            SystemTime::UNIX_EPOCH,
            attributes.clone(),
            0,
        ));
        let mut links = SpanLinks::default();
        links
            .links
            .push(Link::new(context.clone(), attributes.clone(), 0));
        SpanData {
            span_context: context,
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed("span"),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes,
            dropped_attributes_count: 0,
            events,
            links,
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    #[test]
    fn string_values_are_cut_at_a_character_boundary_everywhere_in_the_span() {
        let long = "é".repeat(10); // 20 bytes
        let mut data = span(vec![
            KeyValue::new("body", long.clone()),
            KeyValue::new("short", "ok"),
            KeyValue::new(
                "list",
                Value::Array(Array::String(vec![long.clone().into(), "ok".into()])),
            ),
            KeyValue::new("number", 12_345_678_i64),
        ]);
        limit_values(&mut data, 5);
        let events = data.events.events.iter().map(|e| &e.attributes);
        let links = data.links.links.iter().map(|l| &l.attributes);
        for attributes in std::iter::once(&data.attributes).chain(events).chain(links) {
            assert_eq!(attributes[0].value, Value::from("éé"), "4 bytes: é is 2");
            assert_eq!(attributes[1].value, Value::from("ok"));
            assert_eq!(
                attributes[2].value,
                Value::Array(Array::String(vec!["éé".into(), "ok".into()]))
            );
            assert_eq!(attributes[3].value, Value::I64(12_345_678));
        }
    }
}
