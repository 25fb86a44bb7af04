//! The `tracing` subscriber: log lines on stdout, and `tracing` spans as OpenTelemetry spans.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Registry};

/// Crates whose own spans must never become telemetry: the exporter's HTTP stack would trace
/// its own exports, and lambda_runtime's internals are not the user's code.
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

/// The layer that turns `tracing` spans into OpenTelemetry spans, children of the invocation
/// span (tracing-opentelemetry takes the parent from the OpenTelemetry context the layer
/// attaches). Compose it into your own subscriber when you install one yourself.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    // Busy/idle times and thread ids cost work on every span and say little in a function
    // that handles one invocation at a time.
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("lambda-otel"))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_filter(telemetry_filter())
}

/// What may become telemetry: INFO and above, from the user's code, never the exporter's
/// own stack (nor lambda_runtime's TRACE event that carries the raw event, secrets and all).
fn telemetry_filter() -> Targets {
    QUIET_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::INFO),
        |t, target| t.with_target(*target, LevelFilter::OFF),
    )
}

/// Installs the global subscriber; a subscriber installed earlier is kept (and reported).
pub(crate) fn install(
    provider: Option<&SdkTracerProvider>,
    lookup: &dyn Fn(&str) -> Option<String>,
) {
    let level = lookup("RUST_LOG")
        .or_else(|| lookup("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()))
        .unwrap_or_else(|| "info".to_owned());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_target(false)
        .with_filter(EnvFilter::new(level));
    let otel = provider.map(otel_layer::<Registry>);
    let events = provider.map(|_| super::events::SpanEvents.with_filter(telemetry_filter()));
    let installed = Registry::default()
        .with(otel)
        .with(events)
        .with(fmt)
        .try_init();
    if installed.is_err() {
        tracing::debug!(target: "lambda_otel", "a tracing subscriber was already installed; keeping it");
    }
}
