//! The one `tracing` field collector: each field of an event as a typed [`Value`], in the
//! order the event declares them, handed to the caller, which applies its own rules (the log
//! line's renames and redaction, the span event's message and attributes).

use std::fmt;
use tracing::field::{Field, Visit};

/// Collects an event's fields (`event.record(&mut Collect(..))`): calls the function with each
/// field's name and value. Values `tracing` has no method of ours for arrive as text: errors as
/// their `Display`, bytes as hex, 128-bit integers as digits.
pub(super) struct Collect<F>(pub(super) F);

impl<F: FnMut(&'static str, Value)> Visit for Collect<F> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        (self.0)(field.name(), Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        (self.0)(field.name(), Value::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        (self.0)(field.name(), Value::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        (self.0)(field.name(), Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        (self.0)(field.name(), Value::Text(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        (self.0)(field.name(), Value::Text(format!("{value:?}")));
    }
}

/// A field's value, keeping the types JSON and OpenTelemetry can show.
#[derive(Debug)]
pub(super) enum Value {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    /// A string, or the `Debug` text of anything else.
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I64(v) => v.fmt(f),
            Value::U64(v) => v.fmt(f),
            Value::F64(v) => v.fmt(f),
            Value::Bool(v) => v.fmt(f),
            Value::Text(v) => f.write_str(v),
        }
    }
}
