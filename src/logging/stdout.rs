//! The log lines a function writes to stdout, which Lambda ships to CloudWatch Logs.
//!
//! One line per event, in the format `AWS_LAMBDA_LOG_FORMAT` names, each carrying the
//! invocation's request id and the OpenTelemetry trace and span ids, so a line leads to its
//! trace and a trace to its lines (`\t` is a tab):
//!
//! ```text
//! 2026-11-21T10:00:00.123456Z\t8476a536-e9f4-11e8-9739-2dfe598c3fcd\tINFO\tAlice rolled 4 player=Alice roll=4 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7
//! {"timestamp":"2026-11-21T10:00:00.123456Z","level":"INFO","requestId":"8476a536-e9f4-11e8-9739-2dfe598c3fcd","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","target":"dice_roller","message":"Alice rolled 4","player":"Alice","roll":4}
//! ```
//!
//! # What a message cannot forge
//!
//! Messages and field values are whatever the code logs, often copied from the event: they
//! must not be able to forge a line, a column or an id.
//!
//! - **Text**: a line is always one line of four tab-separated columns, the last being the
//!   message, then `key=value` fields, then the crate's ids. The message and every value are
//!   written as they are when that cannot be misread, else as a JSON string (double quotes,
//!   `\"`, `\\`, `\t`, `\n`, `\r`, and `\uXXXX` for every other unsafe character): the message
//!   when it contains `=`, `"` or an unsafe character; a value when it is empty or contains
//!   whitespace, `=`, `"` or an unsafe character. Unsafe characters are the control characters
//!   (C0, DEL, C1: tabs and line breaks would forge columns and lines), the Unicode line and
//!   paragraph separators, and the bidirectional controls (which reorder what a reader sees).
//!   So text written bare is literal and never holds an escape. A field name (from code) has
//!   whitespace, `=`, `"` and unsafe characters replaced by `_`, and a field named `trace_id`
//!   or `span_id` is written `field.trace_id` / `field.span_id`. Hence `trace_id=<32 hex>
//!   span_id=<16 hex>` at the very end of a line is always the crate's own: read the ids from
//!   there (in CloudWatch Logs Insights: `parse @message /trace_id=(?<trace_id>[0-9a-f]{32})
//!   span_id=(?<span_id>[0-9a-f]{16})$/`), never from the first `trace_id=` in the line.
//! - **JSON**: serde_json escapes what a JSON string needs, so a line is one line. An event
//!   field named like one of the line's own keys (`timestamp`, `level`, `requestId`,
//!   `trace_id`, `span_id`, `target`, `message`), or `_aws` (which makes CloudWatch Logs read
//!   the line as an Embedded Metric Format document), is written `field.<name>`: JSON readers
//!   keep one of two equal keys, not both.
//!
//! # What lambda_runtime's errors cannot show
//!
//! When an event does not deserialize into the handler's type, lambda_runtime logs an ERROR
//! with the serde error's `Debug` in its `error` field. serde's messages quote the event
//! (`invalid type: string "hunter2", expected u32`, ``unknown variant `admin` ``), and the
//! error's path shows the event's keys. So in the `error` field of any event of a
//! `lambda_runtime*` target, quoted text is replaced by `<redacted>`: each string of the
//! `Debug` (`"..."`) but serde_json's message, and in that message (and in backquotes outside
//! any string) everything from the first quote or backquote to the last. The line stays, with
//! the error's kind, line and column: `Error("invalid type: string \"<redacted>\", expected
//! u32", line: 1, column: 25)`. lambda_runtime's other errors (a failed request to the Runtime
//! API) lose their strings too, not their kinds and codes.

use super::fields::{Collect, Value};
use crate::LogFormat;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

mod redact;
#[cfg(test)]
mod tests;
mod timestamp;

/// The keys a JSON line writes before the event's fields, and `_aws`, the member that makes
/// CloudWatch Logs read a line as an EMF document; a field of the same name is renamed so that
/// it cannot shadow them (JSON readers keep one of two equal keys, not both).
const RESERVED: [&str; 8] = [
    "timestamp",
    "level",
    "requestId",
    "trace_id",
    "span_id",
    "target",
    "message",
    "_aws",
];

/// The fmt layer writing Lambda log lines to `writer` (stdout in production).
pub(crate) fn layer<S, W>(format: LogFormat, writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static + Send + Sync,
{
    tracing_subscriber::fmt::layer()
        .event_format(LambdaFormat { format })
        .with_writer(writer)
        .with_ansi(false)
        // The fmt layer reports a failed write with `eprintln!`, which panics when stderr fails
        // as well; a log line is not worth the function.
        .log_internal_errors(false)
}

/// Formats one event as one Lambda log line.
#[derive(Debug, Clone, Copy)]
struct LambdaFormat {
    format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for LambdaFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Records from the `log` crate arrive with tracing-log's own callsite: their real level
        // and target are in the `log.*` fields.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut fields = Fields {
            from_log: normalized.is_some(),
            from_lambda_runtime: metadata.target().starts_with("lambda_runtime"),
            message: None,
            values: Vec::new(),
        };
        event.record(&mut Collect(|name, value| fields.push(name, value)));

        let timestamp = timestamp::format(std::time::SystemTime::now());
        let timestamp = std::str::from_utf8(&timestamp).map_err(|_| fmt::Error)?;
        let target = metadata.target();
        // The API's internal warnings are emitted while its context stack is mutably borrowed
        // (an attach beyond the stack's limit, an odd pop), where reading the current context
        // would panic; they belong to no invocation anyway.
        let cx = (target != "opentelemetry").then(opentelemetry::Context::current);
        let ids = cx.as_ref().and_then(|cx| {
            let span = cx.span();
            let span_context = span.span_context();
            span_context
                .is_valid()
                .then(|| (span_context.trace_id(), span_context.span_id()))
        });

        let line = Line {
            timestamp,
            level: metadata.level().as_str(),
            request_id: cx.as_ref().and_then(super::request_id),
            ids,
            target,
            fields: &fields,
        };
        match self.format {
            LogFormat::Text => line.write_text(&mut writer),
            LogFormat::Json => line.write_json(&mut writer),
        }
    }
}

/// Everything one line shows.
struct Line<'a> {
    timestamp: &'a str,
    level: &'static str,
    request_id: Option<&'a str>,
    ids: Option<(TraceId, SpanId)>,
    target: &'a str,
    fields: &'a Fields,
}

impl Line<'_> {
    /// Lambda's text format: timestamp, request id, level and message, tab-separated.
    fn write_text(&self, w: &mut Writer<'_>) -> fmt::Result {
        let request_id = self.request_id.unwrap_or("-");
        write!(w, "{}\t{request_id}\t{}\t", self.timestamp, self.level)?;
        let mut first = true;
        if let Some(message) = self.fields.message.as_deref().filter(|m| !m.is_empty()) {
            // A bare `=` or `"` would make message words read as fields, or swallow the
            // fields and ids that follow into a quoted string.
            if message.contains(|c: char| c == '=' || c == '"' || is_unsafe(c)) {
                write_quoted(w, message)?;
            } else {
                w.write_str(message)?;
            }
            first = false;
        }
        for (name, value) in &self.fields.values {
            if !std::mem::take(&mut first) {
                w.write_char(' ')?;
            }
            write_name(w, name)?;
            w.write_char('=')?;
            value.write_text(w)?;
        }
        if let Some((trace_id, span_id)) = self.ids {
            if !first {
                w.write_char(' ')?;
            }
            write!(w, "trace_id={trace_id} span_id={span_id}")?;
        }
        w.write_char('\n')
    }

    fn write_json(&self, w: &mut Writer<'_>) -> fmt::Result {
        // serde_json cannot fail on string keys and these values; were it to, the fmt layer
        // drops the line rather than write a broken one.
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        w.write_str(&json)?;
        w.write_char('\n')
    }
}

impl Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("timestamp", self.timestamp)?;
        map.serialize_entry("level", self.level)?;
        if let Some(request_id) = self.request_id {
            map.serialize_entry("requestId", request_id)?;
        }
        if let Some((trace_id, span_id)) = &self.ids {
            map.serialize_entry("trace_id", &Hex(trace_id))?;
            map.serialize_entry("span_id", &Hex(span_id))?;
        }
        map.serialize_entry("target", self.target)?;
        map.serialize_entry("message", self.fields.message.as_deref().unwrap_or(""))?;
        for (name, value) in &self.fields.values {
            if RESERVED.contains(name) {
                map.serialize_entry(&format!("field.{name}"), value)?;
            } else {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

/// Whether `c` must not appear as itself in a Text line: a control character (C0, DEL, C1),
/// a Unicode line or paragraph separator, or a bidirectional control.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes `text` as a JSON string, with every unsafe character escaped (all of them are in the
/// Basic Multilingual Plane, so `\uXXXX` is enough).
fn write_quoted(w: &mut Writer<'_>, text: &str) -> fmt::Result {
    w.write_char('"')?;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let short = match c {
            '"' => Some('"'),
            '\\' => Some('\\'),
            '\t' => Some('t'),
            '\n' => Some('n'),
            '\r' => Some('r'),
            c if is_unsafe(c) => None,
            _ => continue,
        };
        w.write_str(&text[start..i])?;
        match short {
            Some(short) => write!(w, "\\{short}")?,
            None => write!(w, "\\u{:04x}", u32::from(c))?,
        }
        start = i + c.len_utf8();
    }
    w.write_str(&text[start..])?;
    w.write_char('"')
}

/// Writes a field name (from code, but `"any text" = value` is allowed) so that it stays one
/// `key` token and never reads as one of the ids the line ends with.
fn write_name(w: &mut Writer<'_>, name: &str) -> fmt::Result {
    if matches!(name, "trace_id" | "span_id") {
        w.write_str("field.")?;
    }
    for c in name.chars() {
        let unsafe_in_key = c.is_whitespace() || c == '=' || c == '"' || is_unsafe(c);
        w.write_char(if unsafe_in_key { '_' } else { c })?;
    }
    Ok(())
}

/// An id as the lower-case hex its `Display` writes, without an intermediate `String`.
struct Hex<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Hex<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

/// An event's message and fields, in the order the event declares them.
struct Fields {
    /// Whether the event is a `log` record, whose `log.*` fields only carry its metadata.
    from_log: bool,
    /// Whether the event is lambda_runtime's, whose `error` field may quote the event.
    from_lambda_runtime: bool,
    message: Option<String>,
    values: Vec<(&'static str, Value)>,
}

impl Fields {
    fn push(&mut self, name: &'static str, value: Value) {
        if name == "message" {
            self.message = Some(match value {
                Value::Text(text) => text,
                other => other.to_string(),
            });
        } else if self.from_lambda_runtime && name == "error" {
            let value = match value {
                Value::Text(text) => Value::Text(redact::quoted_fragments(&text)),
                other => other,
            };
            self.values.push((name, value));
        } else if !(self.from_log && name.starts_with("log.")) {
            self.values.push((name, value));
        }
    }
}

impl Value {
    /// `key=value` text stays splittable on spaces: text with whitespace, `=`, `"` or an
    /// unsafe character (or none at all) is written as a JSON string.
    fn write_text(&self, w: &mut Writer<'_>) -> fmt::Result {
        match self {
            Value::Text(text)
                if text.is_empty()
                    || text.contains(|c: char| {
                        c.is_whitespace() || c == '=' || c == '"' || is_unsafe(c)
                    }) =>
            {
                write_quoted(w, text)
            }
            other => write!(w, "{other}"),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::I64(v) => serializer.serialize_i64(*v),
            Value::U64(v) => serializer.serialize_u64(*v),
            // JSON has no NaN nor infinity.
            Value::F64(v) if !v.is_finite() => serializer.serialize_none(),
            Value::F64(v) => serializer.serialize_f64(*v),
            Value::Bool(v) => serializer.serialize_bool(*v),
            Value::Text(v) => serializer.serialize_str(v),
        }
    }
}
