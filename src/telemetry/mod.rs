// Set-up (for users, the docs below): `TelemetryBuilder` resolves the settings, then builds,
// in this order, the resource (resource.rs), each signal's exporter and the worker that runs
// them (exporters_from_settings.rs), the providers with the flush's processors, reader and
// `Flusher` (providers.rs), and the layer's state (`LayerState::new`). `Telemetry` keeps what
// it needs itself (the providers, the flusher for `shutdown`, the outgoing propagators for
// `try_init`) and never reads the layer's state. This is the top of the crate: it may use
// every module below it (`config`, `export`, `flush`, `logging`, `propagation`, `invocation`
// for the cold start, `layer` to build it); none of them uses it (only `bench.rs`, the
// benchmarks' entry, sits above).

//! Setting up the providers of traces, metrics and logs, and the log lines on stdout: one call
//! in `main`, with a builder for code-level overrides.

mod builder;
mod exporters_from_settings;
mod providers;
mod resource;
#[cfg(unix)]
mod sigterm;

pub use crate::export::console;
#[cfg(feature = "logs")]
pub use crate::logging::logs_layer;
pub use crate::logging::otel_layer;
pub use builder::TelemetryBuilder;

use crate::config::Propagator;
use crate::flush::Flusher;
use crate::{LogFormat, OtelLayer};
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::SdkLoggerProvider;
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lambda gives 500 ms to shut down when only internal extensions are registered; leave room
/// for the rest of the process.
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(400);

/// The providers of the signals that are on; all `None` when telemetry is disabled.
#[derive(Clone, Debug, Default)]
pub(crate) struct Providers {
    pub tracer: Option<SdkTracerProvider>,
    #[cfg(feature = "metrics")]
    pub meter: Option<SdkMeterProvider>,
    #[cfg(feature = "logs")]
    pub logger: Option<SdkLoggerProvider>,
}

/// How log lines are written, kept for the subscriber.
#[derive(Clone, Debug)]
pub(crate) struct LogSettings {
    pub format: LogFormat,
    /// `tracing` filter directives.
    pub filter: String,
    /// The most bytes of a log record's string body or attribute value.
    #[cfg(feature = "logs")]
    pub value_limit: usize,
}

/// The telemetry of a function: the tracer, meter and logger providers (the last two with the
/// `metrics` and `logs` features), the flush's exporters (with the export thread, started when
/// first needed) and the [`OtelLayer`].
///
/// Cheap to clone. Build it once in `main` with [`Telemetry::from_env`] or
/// [`Telemetry::builder`], then add [`Telemetry::layer`] to the runtime.
#[derive(Clone, Debug)]
pub struct Telemetry {
    providers: Providers,
    layer: OtelLayer,
    log: LogSettings,
    /// The flush the layer uses too, for [`shutdown`](Self::shutdown); `None` when nothing is
    /// exported.
    flusher: Option<Flusher>,
    /// The propagators of outgoing calls, which [`try_init`](TelemetryBuilder::try_init)
    /// installs globally; `None` when the SDK is disabled.
    outgoing: Option<Arc<[Propagator]>>,
}

impl Telemetry {
    /// A builder for code-level settings; environment variables fill in the rest.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// Everything from the environment (see the crate docs for the variables), installed
    /// globally: the tracer and meter providers and a `tracing` subscriber. Same as
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
        self.providers.tracer.as_ref()
    }

    /// The meter provider, unless telemetry is disabled or `OTEL_METRICS_EXPORTER=none`.
    /// [`try_init`](TelemetryBuilder::try_init) also makes it the global one
    /// (`opentelemetry::global::meter`). With the `metrics` feature.
    #[cfg(feature = "metrics")]
    #[must_use]
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.providers.meter.as_ref()
    }

    /// The logger provider, unless telemetry is disabled or `OTEL_LOGS_EXPORTER=none`. With the
    /// `logs` feature.
    #[cfg(feature = "logs")]
    #[must_use]
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.providers.logger.as_ref()
    }

    /// Exports what is left of every signal and shuts the providers down, within Lambda's
    /// shutdown budget (400 ms), without blocking the async executor. Call it on SIGTERM, for
    /// example from [`shutdown_on_sigterm`](Self::shutdown_on_sigterm).
    pub async fn shutdown(&self) {
        let Some(tracer) = self.providers.tracer.clone() else {
            return;
        };
        #[cfg(feature = "metrics")]
        let meter = self.providers.meter.clone();
        #[cfg(feature = "logs")]
        let logger = self.providers.logger.clone();
        let flusher = self.flusher.clone();
        let (done, finished) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("lambda-otel-shutdown".into())
            .spawn(move || {
                // One budget for every step: each gets what the steps before it left.
                let until = Instant::now() + SHUTDOWN_BUDGET;
                let left = || until.saturating_duration_since(Instant::now());
                let complete = flusher.is_none_or(|f| f.shutdown_blocking(left()));
                if !complete {
                    tracing::warn!(target: "lambda_otel", "telemetry shutdown incomplete");
                }
                // What the providers still hold was exported above; this stops them.
                drop(tracer.shutdown_with_timeout(left()));
                #[cfg(feature = "metrics")]
                if let Some(meter) = meter {
                    drop(meter.shutdown_with_timeout(left()));
                }
                #[cfg(feature = "logs")]
                if let Some(logger) = logger {
                    drop(logger.shutdown_with_timeout(left()));
                }
                let _ = done.send(());
            });
        if spawned.is_ok() {
            // An Err means the thread is gone; nothing more can be done for the data either way.
            drop(finished.await);
        }
    }
}
