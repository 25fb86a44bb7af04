//! `tracing` events logged outside any `tracing` span (straight in the handler) become events
//! of the invocation span. tracing-opentelemetry only attaches events to `tracing` spans, and
//! the invocation span is an OpenTelemetry span.

use super::fields::{Collect, Value};
use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use std::borrow::Cow;
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
        let mut message = None;
        let mut attributes = vec![
            KeyValue::new("level", meta.level().as_str()),
            KeyValue::new("target", meta.target()),
        ];
        // Every field is an attribute (`log.*` ones too), but a text `message`, which names
        // the event.
        event.record(&mut Collect(|name, value| match (name, value) {
            ("message", Value::Text(text)) => message = Some(text),
            (name, value) => attributes.push(KeyValue::new(name, attribute(value))),
        }));
        let name = message.map_or(Cow::Borrowed(meta.name()), Cow::Owned);
        span.add_event(name, attributes);
    }
}

/// A field as an attribute value; a `u64` past `i64::MAX`, which OpenTelemetry cannot hold,
/// becomes `i64::MAX`.
fn attribute(value: Value) -> opentelemetry::Value {
    match value {
        Value::I64(v) => v.into(),
        Value::U64(v) => i64::try_from(v).unwrap_or(i64::MAX).into(),
        Value::F64(v) => v.into(),
        Value::Bool(v) => v.into(),
        Value::Text(v) => v.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tracing_subscriber::prelude::*;

    /// Keeps the spans that end.
    #[derive(Debug, Clone, Default)]
    struct Ended(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Ended {
        fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

        fn on_end(&self, span: SpanData) {
            self.0.lock().expect("not poisoned").push(span);
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    /// The events `log` adds to a span current while it runs, outside any `tracing` span.
    fn events(log: impl FnOnce()) -> Vec<opentelemetry::trace::Event> {
        let ended = Ended::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(ended.clone())
            .build();
        let span = provider.tracer("span-events-tests").start("invocation");
        let cx = opentelemetry::Context::current_with_span(span);
        let subscriber = tracing_subscriber::registry().with(SpanEvents);
        tracing::subscriber::with_default(subscriber, || {
            let _attached = cx.clone().attach();
            log();
        });
        cx.span().end();
        let mut spans = ended.0.lock().expect("not poisoned");
        let [span] = &mut spans[..] else {
            panic!("one span: {spans:?}");
        };
        std::mem::take(&mut span.events.events)
    }

    fn attributes(event: &opentelemetry::trace::Event) -> Vec<(&str, &opentelemetry::Value)> {
        event
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), &kv.value))
            .collect()
    }

    #[test]
    fn fields_become_typed_attributes_and_a_text_message_names_the_event() {
        let events = events(|| {
            tracing::warn!(
                big = u64::MAX,
                small = 7_u64,
                negative = -3,
                flag = true,
                ratio = 0.5,
                text = "a b",
                listed = ?[1, 2],
                "rolled {}",
                4
            );
        });
        let [event] = &events[..] else {
            panic!("one event: {events:?}");
        };
        assert_eq!(event.name, "rolled 4");
        use opentelemetry::Value as V;
        assert_eq!(
            attributes(event),
            [
                ("level", &V::from("WARN")),
                ("target", &V::from(module_path!())),
                ("big", &V::I64(i64::MAX)),
                ("small", &V::I64(7)),
                ("negative", &V::I64(-3)),
                ("flag", &V::Bool(true)),
                ("ratio", &V::F64(0.5)),
                ("text", &V::from("a b")),
                ("listed", &V::from("[1, 2]")),
            ]
        );
    }

    #[test]
    fn a_message_that_is_not_text_and_log_fields_stay_attributes() {
        let events = events(|| tracing::info!(message = 5, log.target = "app::db"));
        let [event] = &events[..] else {
            panic!("one event: {events:?}");
        };
        assert!(event.name.starts_with("event "), "{}", event.name);
        let attributes = attributes(event);
        assert_eq!(
            attributes[2..],
            [
                ("message", &opentelemetry::Value::I64(5)),
                ("log.target", &opentelemetry::Value::from("app::db")),
            ]
        );
    }
}
