//! Setting up the providers: one call in `main`, with a builder for code-level overrides.

mod builder;
pub mod console;
mod events;
mod exporter;
mod resource;
mod subscriber;

pub use builder::TelemetryBuilder;
pub use subscriber::otel_layer;

use crate::OtelLayer;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;

/// Lambda gives 500 ms to shut down when only internal extensions are registered; leave room
/// for the rest of the process.
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(400);

/// The telemetry of a function: the tracer provider, the export thread and the [`OtelLayer`].
///
/// Cheap to clone. Build it once in `main` with [`Telemetry::from_env`] or
/// [`Telemetry::builder`], then add [`Telemetry::layer`] to the runtime.
#[derive(Clone, Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    layer: OtelLayer,
}

impl Telemetry {
    /// A builder for code-level settings; environment variables fill in the rest.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// Everything from the environment (see the crate docs for the variables), installed
    /// globally: the tracer provider and a `tracing` subscriber. Same as
    /// `Telemetry::builder().try_init()`.
    ///
    /// # Errors
    /// A variable with a value this crate does not accept; the message names it and the
    /// accepted values.
    pub fn from_env() -> Result<Self, crate::Error> {
        Self::builder().try_init()
    }

    /// The layer for [`Runtime::layer`](lambda_runtime::Runtime::layer), and for wrapping the
    /// handler with [`OtelLayer::wrap`].
    #[must_use]
    pub fn layer(&self) -> OtelLayer {
        self.layer.clone()
    }

    /// The tracer provider, unless telemetry is disabled.
    #[must_use]
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// Exports what is left and shuts the provider down, within Lambda's shutdown budget
    /// (400 ms), without blocking the async executor. Call it on SIGTERM, for example from
    /// `lambda_runtime::spawn_graceful_shutdown_handler`.
    pub async fn shutdown(&self) {
        let Some(provider) = self.provider.clone() else {
            return;
        };
        let (done, finished) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("lambda-otel-shutdown".into())
            .spawn(move || {
                if let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_BUDGET) {
                    tracing::warn!(target: "lambda_otel", %error, "telemetry shutdown incomplete");
                }
                let _ = done.send(());
            });
        if spawned.is_ok() {
            // An Err means the thread is gone; nothing more can be done for the data either way.
            drop(finished.await);
        }
    }

    pub(crate) fn new(provider: Option<SdkTracerProvider>, layer: OtelLayer) -> Self {
        Self { provider, layer }
    }
}
