//! `tracing` events logged outside any `tracing` span (straight in the handler) become events
//! of the invocation span. tracing-opentelemetry only attaches events to `tracing` spans, and
//! the invocation span is an OpenTelemetry span.

use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use std::borrow::Cow;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Adds events outside `tracing` spans to the current OpenTelemetry span.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SpanEvents;

impl<S> tracing_subscriber::Layer<S> for SpanEvents
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.parent().is_some() || ctx.lookup_current().is_some() {
            return;
        }
        let cx = opentelemetry::Context::current();
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let meta = event.metadata();
        let mut fields = Fields {
            message: None,
            attributes: vec![
                KeyValue::new("level", meta.level().as_str()),
                KeyValue::new("target", meta.target()),
            ],
        };
        event.record(&mut fields);
        let name = fields
            .message
            .map_or(Cow::Borrowed(meta.name()), Cow::Owned);
        span.add_event(name, fields.attributes);
    }
}

struct Fields {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            name => self.attributes.push(KeyValue::new(name, value.to_owned())),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}
