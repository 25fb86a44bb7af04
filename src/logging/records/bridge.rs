//! The bridge from `tracing` events to log records, and the logger that renames their
//! source-location attributes (see [the module docs](super)).

use super::super::subscriber::{directives, no_payload, quiet};
use crate::config::env::DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT;
use opentelemetry::logs::{AnyValue, LogRecord, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, Key};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_semantic_conventions::attribute::{CODE_FILE_PATH, CODE_LINE_NUMBER};
use std::borrow::Cow;
use std::time::SystemTime;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{FilterExt as _, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// This crate's own warnings (a failed export) go to stdout only: as log records they would
/// ride on the very exports that fail.
const OWN_TARGET: &str = "lambda_otel";

/// The layer that turns `tracing` events into OpenTelemetry log records with the trace and
/// span ids of the span they were emitted in, at the level of `filter` (`tracing` directives,
/// as in `RUST_LOG`: a level and `target=level` pairs; unparsable directives mean INFO). Each
/// record carries where it was logged: `code.file.path`, `code.line.number` and
/// `code.module.name`.
/// Compose it into your own subscriber when you install one yourself, beside
/// [`otel_layer`](crate::telemetry::otel_layer).
/// Neither layer ever takes lambda_runtime's events that carry the raw event or a streaming
/// response's headers, whatever `filter` says; a stdout layer of your own needs the same care
/// (drop events of `lambda_runtime*` targets with a `body` or `metadata_prelude` field).
/// String bodies and attribute values are cut to 4096 bytes (the default of
/// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`). With the `logs` feature.
pub fn logs_layer<S>(
    provider: &SdkLoggerProvider,
    filter: &str,
) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    limited_logs_layer(provider, filter, DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT)
}

/// The log records' layer of the subscriber [`install`](super::super::install)s: the logger
/// provider, and the most bytes of a string value.
#[derive(Debug)]
pub(crate) struct Bridge {
    provider: SdkLoggerProvider,
    value_limit: usize,
}

impl Bridge {
    pub(crate) fn new(provider: &SdkLoggerProvider, value_limit: usize) -> Self {
        Self {
            provider: provider.clone(),
            value_limit,
        }
    }

    pub(crate) fn layer<S>(self, filter: &str) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        limited_logs_layer(&self.provider, filter, self.value_limit)
    }
}

/// [`logs_layer`] with string values cut to `value_limit` bytes.
fn limited_logs_layer<S>(
    provider: &SdkLoggerProvider,
    filter: &str,
    value_limit: usize,
) -> impl tracing_subscriber::Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let own = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target(OWN_TARGET, LevelFilter::OFF);
    let quiet = quiet(Targets::new().with_default(LevelFilter::TRACE));
    OpenTelemetryTracingBridge::new(&CodeNames(provider.clone(), value_limit))
        .with_filter(directives(filter).and(quiet).and(own).and(no_payload()))
}

/// The source-location attributes opentelemetry-appender-tracing adds to a record before the
/// event's fields, in the order it adds them (each may be missing), with the name the record
/// takes instead; `None` drops the attribute (`code.filename` is the last part of the path,
/// under a name no convention has).
const CODE_NAMES: [(&str, Option<&str>); 4] = [
    ("code.namespace", Some("code.module.name")),
    ("code.filepath", Some(CODE_FILE_PATH)),
    ("code.filename", None),
    ("code.lineno", Some(CODE_LINE_NUMBER)),
];

/// The logger provider of [`logs_layer`]: the SDK's, with records that rename the bridge's
/// source-location attributes (see the module docs) and cut string values to the limit (the
/// second field, in bytes).
#[derive(Debug)]
struct CodeNames(SdkLoggerProvider, usize);

impl opentelemetry::logs::LoggerProvider for CodeNames {
    type Logger = CodeNamesLogger;

    fn logger_with_scope(&self, scope: InstrumentationScope) -> CodeNamesLogger {
        CodeNamesLogger(self.0.logger_with_scope(scope), self.1)
    }
}

/// The SDK's logger, making [`CodeNamesRecord`]s.
#[derive(Debug)]
struct CodeNamesLogger(SdkLogger, usize);

impl opentelemetry::logs::Logger for CodeNamesLogger {
    type LogRecord = CodeNamesRecord;

    fn create_log_record(&self) -> CodeNamesRecord {
        CodeNamesRecord {
            record: self.0.create_log_record(),
            next: 0,
            value_limit: self.1,
        }
    }

    fn emit(&self, record: CodeNamesRecord) {
        self.0.emit(record.record);
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }
}

/// The SDK's record, with the source-location attributes renamed as they are added.
#[derive(Debug)]
struct CodeNamesRecord {
    record: SdkLogRecord,
    /// The index in [`CODE_NAMES`] of the first source-location attribute still to come. An
    /// attribute is renamed only in that position: once the event's own fields begin, a field
    /// named `code.lineno` keeps its name.
    next: usize,
    /// The most bytes of a string body or attribute value.
    value_limit: usize,
}

/// `value` with a string cut to `limit` bytes at a character boundary (other values as they are).
fn limited(value: AnyValue, limit: usize) -> AnyValue {
    match value {
        AnyValue::String(s) if s.as_str().len() > limit => AnyValue::String(
            crate::attributes::truncate(s.as_str(), limit)
                .to_owned()
                .into(),
        ),
        other => other,
    }
}

impl LogRecord for CodeNamesRecord {
    fn set_event_name(&mut self, name: &'static str) {
        self.record.set_event_name(name);
    }

    fn set_target<T>(&mut self, target: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.record.set_target(target);
    }

    fn set_timestamp(&mut self, timestamp: SystemTime) {
        self.record.set_timestamp(timestamp);
    }

    fn set_observed_timestamp(&mut self, timestamp: SystemTime) {
        self.record.set_observed_timestamp(timestamp);
    }

    fn set_severity_text(&mut self, text: &'static str) {
        self.record.set_severity_text(text);
    }

    fn set_severity_number(&mut self, number: Severity) {
        self.record.set_severity_number(number);
    }

    fn set_body(&mut self, body: AnyValue) {
        self.record.set_body(limited(body, self.value_limit));
    }

    fn add_attributes<I, K, V>(&mut self, attributes: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        for (key, value) in attributes {
            self.add_attribute(key, value);
        }
    }

    fn add_attribute<K, V>(&mut self, key: K, value: V)
    where
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        let key = key.into();
        let value = limited(value.into(), self.value_limit);
        let ahead = CODE_NAMES.get(self.next..).unwrap_or_default();
        match ahead.iter().position(|(old, _)| key.as_str() == *old) {
            Some(i) => {
                self.next += i + 1;
                if let Some(new) = ahead[i].1 {
                    self.record.add_attribute(Key::from_static_str(new), value);
                }
            }
            None => {
                self.next = CODE_NAMES.len();
                self.record.add_attribute(key, value);
            }
        }
    }

    fn set_trace_context(
        &mut self,
        trace_id: TraceId,
        span_id: SpanId,
        trace_flags: Option<TraceFlags>,
    ) {
        self.record
            .set_trace_context(trace_id, span_id, trace_flags);
    }
}

#[cfg(test)]
mod tests {
    use super::CodeNames;
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry_sdk::logs::SdkLoggerProvider;

    #[test]
    fn the_bridge_s_source_location_takes_the_current_names_and_fields_keep_theirs() {
        let logger = CodeNames(SdkLoggerProvider::builder().build(), 4096).logger("");
        let keys = |attributes: &[(&'static str, i64)]| {
            let mut record = logger.create_log_record();
            for (key, value) in attributes {
                record.add_attribute(*key, *value);
            }
            let keys: Vec<String> = record
                .record
                .attributes_iter()
                .map(|(key, _)| key.to_string())
                .collect();
            keys
        };
        assert_eq!(
            keys(&[
                ("code.namespace", 0),
                ("code.filepath", 0),
                ("code.filename", 0),
                ("code.lineno", 0),
                ("answer", 42),
                ("code.lineno", 7),
            ]),
            [
                "code.module.name",
                "code.file.path",
                "code.line.number",
                "answer",
                "code.lineno",
            ],
            "the event's own field named code.lineno keeps its name"
        );
        assert_eq!(
            keys(&[("code.lineno", 0), ("code.namespace", 0)]),
            ["code.line.number", "code.namespace"],
            "only in the bridge's order"
        );
    }
}
