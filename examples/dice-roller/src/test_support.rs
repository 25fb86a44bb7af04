//! Records spans and events in memory, so tests can assert on what the dice roller traced
//! without an exporter.

use std::sync::{Arc, Mutex, PoisonError};

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use tracing_subscriber::{Layer, layer::Context, prelude::*, registry::LookupSpan};

/// A closed span: its name and every field that got a value.
#[derive(Debug, Clone)]
pub(crate) struct CapturedSpan {
    pub(crate) name: &'static str,
    fields: Fields,
}

/// An event: its level and fields (the message is the `message` field).
#[derive(Debug, Clone)]
pub(crate) struct CapturedEvent {
    pub(crate) level: Level,
    fields: Fields,
}

/// What ran under [`capture`].
#[derive(Debug, Default)]
pub(crate) struct Captured {
    pub(crate) spans: Vec<CapturedSpan>,
    pub(crate) events: Vec<CapturedEvent>,
}

impl CapturedSpan {
    /// The field's value as text (`Debug` for non-strings), if it was recorded.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }
}

impl CapturedEvent {
    /// The field's value as text (`Debug` for non-strings), if it was recorded.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }
}

impl Captured {
    /// The events at INFO and above: the function's own log, without the OpenTelemetry API's
    /// DEBUG notes (in tests there is no global meter provider, and it says so).
    pub(crate) fn logs(&self) -> Vec<&CapturedEvent> {
        self.events
            .iter()
            .filter(|e| e.level <= Level::INFO)
            .collect()
    }
}

/// Runs `f` with a subscriber that records every span (when it closes) and every event.
pub(crate) fn capture<T>(f: impl FnOnce() -> T) -> (T, Captured) {
    let captured = Arc::new(Mutex::new(Captured::default()));
    let subscriber = tracing_subscriber::registry().with(Recorder(Arc::clone(&captured)));
    let result = tracing::subscriber::with_default(subscriber, f);
    let captured = std::mem::take(&mut *captured.lock().unwrap_or_else(PoisonError::into_inner));
    (result, captured)
}

#[derive(Debug, Clone, Default)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name(), format!("{value:?}")));
    }
}

struct Recorder(Arc<Mutex<Captured>>);

impl Recorder {
    fn with_captured(&self, f: impl FnOnce(&mut Captured)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let span = CapturedSpan {
            name: attrs.metadata().name(),
            fields,
        };
        if let Some(entry) = ctx.span(id) {
            entry.extensions_mut().insert(span);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(entry) = ctx.span(id)
            && let Some(span) = entry.extensions_mut().get_mut::<CapturedSpan>()
        {
            values.record(&mut span.fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = *event.metadata().level();
        self.with_captured(|captured| captured.events.push(CapturedEvent { level, fields }));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx
            .span(&id)
            .and_then(|entry| entry.extensions_mut().remove::<CapturedSpan>())
        {
            self.with_captured(|captured| captured.spans.push(span));
        }
    }
}
