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
//! (the stdout lines, [`otel_layer`], `logs_layer`) drops any event of a `lambda_runtime*`
//! target with a field named `body` or `metadata_prelude`, whatever the level and the
//! directives. lambda_runtime's other events follow `RUST_LOG` on stdout as any crate's do
//! (spans and log records leave lambda_runtime out altogether). The check runs once per
//! callsite, not per event.

use super::Bridge;
use crate::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
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
pub(super) fn no_payload() -> FilterFn {
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

/// `RUST_LOG`-style directives as a [`Targets`] filter: no regex engine, and a level check that
/// costs a few comparisons (the settings have already refused what does not parse).
pub(super) fn directives(filter: &str) -> Targets {
    filter
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO))
}

/// `targets` with the exporter's stack and lambda_runtime switched off.
pub(super) fn quiet(targets: Targets) -> Targets {
    QUIET_TARGETS.iter().fold(targets, |t, target| {
        t.with_target(*target, LevelFilter::OFF)
    })
}

/// Installs the global subscriber (and `log` records into it); a subscriber installed earlier
/// is kept (and reported).
pub(crate) fn install(
    format: LogFormat,
    filter: &str,
    tracer: Option<&SdkTracerProvider>,
    logs: Option<Bridge>,
) {
    let installed = subscriber(format, filter, tracer, logs).try_init();
    if installed.is_err() {
        tracing::debug!(target: "lambda_otel", "a tracing subscriber was already installed; keeping it");
    }
}

/// The subscriber [`install`] installs: every layer behind its filter.
fn subscriber(
    format: LogFormat,
    filter: &str,
    tracer: Option<&SdkTracerProvider>,
    logs: Option<Bridge>,
) -> impl tracing::Subscriber + Send + Sync + 'static {
    let stdout = super::stdout::layer(format, std::io::stdout)
        .with_filter(directives(filter).and(events_only()).and(no_payload()));
    let spans = tracer.map(otel_layer::<Registry>);
    let events = tracer.map(|_| super::span_events::SpanEvents.with_filter(span_filter()));
    let logs = logs.map(|bridge| bridge.layer(filter));
    Registry::default()
        .with(spans)
        .with(events)
        .with(logs)
        .with(stdout)
}

#[cfg(test)]
mod tests {
    use super::no_payload;
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
        #[cfg(feature = "logs")]
        let logs = Some(super::Bridge::new(
            &opentelemetry_sdk::logs::SdkLoggerProvider::builder().build(),
            1024,
        ));
        #[cfg(not(feature = "logs"))]
        let logs = None;
        let subscriber = super::subscriber(
            crate::config::LogFormat::Json,
            "info",
            Some(&provider),
            logs,
        );
        // Every layer's filter has a level hint: the subscriber's maximum is INFO, so the
        // `debug!` and `trace!` macros of lambda_runtime, hyper and tokio return at their level
        // comparison once it is installed (the global maximum is read from this hint; read
        // here without installing it, which other tests' dispatchers would disturb). Without
        // the payload and events-only filters' hints it was TRACE.
        assert_eq!(
            tracing::Subscriber::max_level_hint(&subscriber),
            Some(tracing::level_filters::LevelFilter::INFO)
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
}
