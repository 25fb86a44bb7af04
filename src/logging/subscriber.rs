//! The `tracing` subscriber: log lines on stdout, `tracing` spans as OpenTelemetry spans, and
//! `tracing` events (and `log` records) as OpenTelemetry log records.
//!
//! # lambda_runtime's payload events
//!
//! Two of lambda_runtime's events carry, verbatim, what the function receives or sends: at
//! TRACE, `lambda_runtime::layers::api_response` logs the raw event ("raw JSON event received
//! from Lambda", field `body`: `Authorization` headers, cookies and request bodies included),
//! and `lambda_runtime::requests` logs a streaming response's status, headers and cookies
//! (field `metadata_prelude`). `RUST_LOG=trace`, or `AWS_LAMBDA_LOG_LEVEL=TRACE` from the Lambda
//! console, would write them to CloudWatch Logs. So every layer this crate installs or exports
//! (the stdout lines, [`otel_layer`], [`logs_layer`]) drops any event of a `lambda_runtime*`
//! target with a field named `body` or `metadata_prelude`, whatever the level and the
//! directives. lambda_runtime's other events follow `RUST_LOG` on stdout as any crate's do
//! (spans and log records leave lambda_runtime out altogether). The check runs once per
//! callsite, not per event.
//!
//! # Source location of log records
//!
//! Log records carry where the event was logged under the names spans use (tracing-opentelemetry
//! gives spans the same three): `code.file.path`, `code.line.number` and `code.module.name` (the
//! module path; the semantic conventions fold it into `code.function.name`, a function's full
//! name, which `tracing` does not know). opentelemetry-appender-tracing writes them under the
//! names the conventions have since deprecated (`code.filepath`, `code.lineno`,
//! `code.namespace`, and `code.filename`, which no convention has): [`logs_layer`]'s records are
//! made by a logger that renames them as they are added.

use crate::LogFormat;
use crate::config::env::DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT;
use opentelemetry::logs::{AnyValue, LogRecord, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TracerProvider as _};
use opentelemetry::{InstrumentationScope, Key};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_semantic_conventions::attribute::{CODE_FILE_PATH, CODE_LINE_NUMBER};
use std::borrow::Cow;
use std::time::SystemTime;
use tracing::Metadata;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::{FilterExt as _, FilterFn, Targets, filter_fn};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// Crates whose own spans and events must never become telemetry: the exporter's HTTP stack
/// would trace its own exports, and lambda_runtime's internals are not the user's code.
const QUIET_TARGETS: [&str; 8] = [
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "tonic",
    "tower",
    "opentelemetry",
    "lambda_runtime",
];

/// Fields that make a lambda_runtime event a payload event (see the module docs).
const PAYLOAD_FIELDS: [&str; 2] = ["body", "metadata_prelude"];

/// This crate's own warnings (a failed export) go to stdout only: as log records they would
/// ride on the very exports that fail.
const OWN_TARGET: &str = "lambda_otel";

/// The layer that turns `tracing` spans into OpenTelemetry spans, children of the invocation
/// span (tracing-opentelemetry takes the parent from the OpenTelemetry context the layer
/// attaches). Compose it into your own subscriber when you install one yourself.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    // Busy/idle times and thread ids cost work on every span and say little in a function
    // that handles one invocation at a time.
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("lambda-otel"))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_filter(span_filter())
}

/// What may become spans and span events: INFO and above, from the user's code, never the
/// exporter's own stack nor lambda_runtime's payload events.
fn span_filter<S>() -> impl Filter<S> {
    quiet(Targets::new().with_default(LevelFilter::INFO)).and(no_payload())
}

/// Lets everything through but lambda_runtime's payload events. A `FilterFn` of the metadata
/// alone, so tracing-subscriber caches the answer per callsite. Its level hint (any level) lets
/// the filters it is combined with set the subscriber's maximum level: without a hint, an `and`
/// has none, the subscriber's maximum is `TRACE`, and every `debug!` and `trace!` callsite of
/// lambda_runtime, hyper and tokio is checked at run time instead of skipped by its macro's
/// level comparison.
fn no_payload() -> FilterFn {
    let filter: FilterFn = filter_fn(|metadata| !is_payload_event(metadata));
    filter.with_max_level_hint(LevelFilter::TRACE)
}

/// Events only: the stdout lines take the request id and the trace ids from the invocation's
/// OpenTelemetry context, never from `tracing` spans, so the stdout layer neither formats nor
/// stores the fields of spans it would never print (lambda_runtime's span of every invocation
/// among them).
fn events_only() -> FilterFn {
    let filter: FilterFn = filter_fn(|metadata| metadata.is_event());
    filter.with_max_level_hint(LevelFilter::TRACE)
}

/// Whether `metadata` is one of lambda_runtime's events that carry the raw event or a
/// response's headers.
fn is_payload_event(metadata: &Metadata<'_>) -> bool {
    metadata.is_event()
        && metadata.target().starts_with("lambda_runtime")
        && metadata
            .fields()
            .iter()
            .any(|field| PAYLOAD_FIELDS.contains(&field.name()))
}

/// The layer that turns `tracing` events into OpenTelemetry log records with the trace and
/// span ids of the span they were emitted in, at the level of `filter` (`tracing` directives,
/// as in `RUST_LOG`: a level and `target=level` pairs; unparsable directives mean INFO). Each
/// record carries where it was logged: `code.file.path`, `code.line.number` and
/// `code.module.name`.
/// Compose it into your own subscriber when you install one yourself, beside [`otel_layer`].
/// Neither layer ever takes lambda_runtime's events that carry the raw event or a streaming
/// response's headers, whatever `filter` says; a stdout layer of your own needs the same care
/// (drop events of `lambda_runtime*` targets with a `body` or `metadata_prelude` field).
/// String bodies and attribute values are cut to 4096 bytes (the default of
/// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
pub fn logs_layer<S>(
    provider: &SdkLoggerProvider,
    filter: &str,
) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    limited_logs_layer(provider, filter, DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT)
}

/// [`logs_layer`] with string values cut to `value_limit` bytes.
fn limited_logs_layer<S>(
    provider: &SdkLoggerProvider,
    filter: &str,
    value_limit: usize,
) -> impl tracing_subscriber::Layer<S>
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

/// `RUST_LOG`-style directives as a [`Targets`] filter: no regex engine, and a level check that
/// costs a few comparisons (the settings have already refused what does not parse).
fn directives(filter: &str) -> Targets {
    filter
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO))
}

/// `targets` with the exporter's stack and lambda_runtime switched off.
fn quiet(targets: Targets) -> Targets {
    QUIET_TARGETS.iter().fold(targets, |t, target| {
        t.with_target(*target, LevelFilter::OFF)
    })
}

/// Installs the global subscriber (and `log` records into it); a subscriber installed earlier
/// is kept (and reported).
pub(crate) fn install(
    format: LogFormat,
    filter: &str,
    value_limit: usize,
    tracer: Option<&SdkTracerProvider>,
    logger: Option<&SdkLoggerProvider>,
) {
    let stdout = super::stdout::layer(format, std::io::stdout)
        .with_filter(directives(filter).and(events_only()).and(no_payload()));
    let spans = tracer.map(otel_layer::<Registry>);
    let events = tracer.map(|_| super::span_events::SpanEvents.with_filter(span_filter()));
    let logs = logger.map(|provider| limited_logs_layer(provider, filter, value_limit));
    let installed = Registry::default()
        .with(spans)
        .with(events)
        .with(logs)
        .with(stdout)
        .try_init();
    if installed.is_err() {
        tracing::debug!(target: "lambda_otel", "a tracing subscriber was already installed; keeping it");
    }
}

#[cfg(test)]
mod tests {
    use super::{CodeNames, no_payload};
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry_sdk::logs::SdkLoggerProvider;
    use std::sync::{Arc, Mutex, PoisonError};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

    /// Records the target of every event it is given.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            seen.push(event.metadata().target().to_owned());
        }
    }

    #[test]
    fn the_subscriber_s_maximum_level_is_the_filter_s_so_debug_callsites_are_skipped() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let logger = SdkLoggerProvider::builder().build();
        super::install(
            crate::config::LogFormat::Json,
            "info",
            1024,
            Some(&provider),
            Some(&logger),
        );
        // Every layer's filter has a level hint: the subscriber's maximum is INFO, so the
        // `debug!` and `trace!` macros of lambda_runtime, hyper and tokio return at their level
        // comparison. Without the payload and events-only filters' hints it was TRACE.
        assert_eq!(
            tracing::level_filters::LevelFilter::current(),
            tracing::level_filters::LevelFilter::INFO
        );
    }

    #[test]
    fn only_lambda_runtime_s_payload_events_are_dropped() {
        let seen = Seen::default();
        let subscriber =
            tracing_subscriber::registry().with(seen.clone().with_filter(no_payload()));
        tracing::subscriber::with_default(subscriber, || {
            let body = "{\"headers\":{\"authorization\":\"Bearer secret\"}}";
            tracing::trace!(target: "lambda_runtime::layers::api_response", body, "raw JSON event received from Lambda");
            tracing::trace!(target: "lambda_runtime::requests", metadata_prelude = "{}");
            tracing::error!(target: "lambda_runtime::somewhere_new", body, "moved in a later version");
            tracing::trace!(target: "lambda_runtime::runtime", "Waiting for next event (incoming loop)");
            tracing::info!(target: "dice_roller", body, "the user's own field named body");
        });
        let seen = seen.0.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(*seen, ["lambda_runtime::runtime", "dice_roller"]);
    }

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
