//! The `tracing` subscriber: log lines on stdout, `tracing` spans as OpenTelemetry spans, and
//! `tracing` events (and `log` records) as OpenTelemetry log records.

use super::Telemetry;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::{FilterExt as _, Targets};
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
/// exporter's own stack (nor lambda_runtime's TRACE event that carries the raw event).
fn span_filter() -> Targets {
    quiet(Targets::new().with_default(LevelFilter::INFO))
}

/// The layer that turns `tracing` events into OpenTelemetry log records with the trace and
/// span ids of the span they were emitted in, at the level of `filter` (`tracing` directives,
/// as in `RUST_LOG`: a level and `target=level` pairs; unparsable directives mean INFO). Compose it into your own subscriber
/// when you install one yourself, beside [`otel_layer`].
pub fn logs_layer<S>(
    provider: &SdkLoggerProvider,
    filter: &str,
) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let own = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target(OWN_TARGET, LevelFilter::OFF);
    let quiet = quiet(Targets::new().with_default(LevelFilter::TRACE));
    OpenTelemetryTracingBridge::new(provider).with_filter(directives(filter).and(quiet).and(own))
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
pub(crate) fn install(telemetry: &Telemetry) {
    let log = &telemetry.log;
    let stdout =
        super::stdout::layer(log.format, std::io::stdout).with_filter(directives(&log.filter));
    let spans = telemetry.tracer_provider().map(otel_layer::<Registry>);
    let events = telemetry
        .tracer_provider()
        .map(|_| super::events::SpanEvents.with_filter(span_filter()));
    let logs = telemetry
        .logger_provider()
        .map(|provider| logs_layer(provider, &log.filter));
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
