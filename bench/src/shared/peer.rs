//! lambda_runtime's own OpenTelemetry set-up, the way it documents it: its
//! `OpenTelemetryLayer`, a batch span processor with the OTLP/HTTP exporter, and `force_flush`
//! after every invocation. The reference the wrapper is measured against (`bin/runtime-layer.rs`,
//! and `bin/stages.rs` with stage marks).
//!
//! The exporter reads `OTEL_EXPORTER_OTLP_ENDPOINT`; log lines go to stdout through
//! `tracing_subscriber::fmt`, as `lambda_runtime::tracing::init_default_subscriber` sets up.

use lambda_runtime::layers::{OpenTelemetryFaasTrigger, OpenTelemetryLayer};
use opentelemetry::trace::TracerProvider;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the tracer provider and the subscriber; the layer that flushes after every
/// invocation.
pub fn layer() -> Result<OpenTelemetryLayer<impl Fn() + Clone>, lambda_runtime::Error> {
    // What opentelemetry-otlp does with its default features (`http-proto`,
    // `reqwest-blocking-client`): protobuf, and a blocking client built on a thread of its own
    // (it may not be built or dropped inside a Tokio runtime) with OTLP's 10 s timeout. This
    // workspace also enables `http-json` and the async client for lambda-otel, which would
    // otherwise be picked, so both are set explicitly.
    let client = std::thread::spawn(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
    })
    .join()
    .map_err(|_| "building the HTTP client panicked")??;
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(client)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer("dice-roller");
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(
            tracing_subscriber::fmt::layer()
                .without_time()
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .init();

    Ok(OpenTelemetryLayer::new(move || {
        if let Err(e) = provider.force_flush() {
            eprintln!("force_flush failed: {e}");
        }
    })
    .with_trigger(OpenTelemetryFaasTrigger::Http))
}
