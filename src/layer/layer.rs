//! The layer: configuration only, and the state every service it makes shares.

use super::{OnInvocation, OtelHandler, OtelService};
use crate::config::{Exporter, FlushMode, Settings};
use crate::flush::Flusher;
use crate::invocation::{FaasMetrics, Invocation, SpanSettings};
use lambda_runtime::LambdaInvocation;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::fmt;
use std::sync::Arc;
use tower::Layer;

/// The layer's state: what every service made by the layer shares to start, end and flush an
/// invocation. Built once, by [`LayerState::new`], when the telemetry is built.
#[derive(Clone)]
pub(crate) struct LayerState {
    pub tracer: SdkTracer,
    /// `None` when nothing is exported (every signal's exporter is `none`).
    pub flusher: Option<Flusher>,
    /// `None` when metrics are off (always, without the `metrics` feature).
    pub metrics: Option<FaasMetrics>,
    pub span: SpanSettings,
    pub flush_mode: FlushMode,
    /// Whether an invocation about to time out ends its span and flushes by itself (see
    /// [`arm_guard`](Self::arm_guard)).
    pub deadline_guard: bool,
    /// Boxed rather than a type parameter: the layer is built by [`crate::Telemetry`] and used
    /// in two places, and one dynamic call per invocation is nothing beside the span itself.
    pub on_invocation: Option<Arc<dyn OnInvocation>>,
}

impl LayerState {
    /// The state of the layer `settings` describe: spans from `tracer`, flushed by `flusher`
    /// (when anything is exported), no FaaS metrics (see [`with_metrics`](Self::with_metrics)),
    /// no hook.
    ///
    /// With the SDK disabled, `tracer` is one whose spans are never recorded: the layer only
    /// carries each invocation's request id to the log lines, so nothing is read from the event
    /// (no parent, no links, no attributes) and there is no deadline guard.
    pub(crate) fn new(
        settings: &Settings,
        tracer: &SdkTracerProvider,
        flusher: Option<Flusher>,
    ) -> Self {
        let on = !settings.disabled;
        let span = SpanSettings {
            xray_sampled: settings.xray_sampled,
            cold_start_possible: settings.cold_start_possible,
            propagators: if on {
                Arc::clone(&settings.propagators)
            } else {
                Arc::new([])
            },
            redacted_query_keys: if on {
                Arc::clone(&settings.redacted_query_keys)
            } else {
                Arc::new([])
            },
            event_extraction: on && settings.event_extraction,
            xray_trace_ids: on && settings.traces.exporter == Exporter::Xray,
        };
        Self {
            tracer: tracer.tracer("lambda-otel"),
            flusher,
            metrics: None,
            span,
            flush_mode: settings.flush_mode,
            deadline_guard: on && settings.deadline_guard,
            on_invocation: None,
        }
    }

    /// The FaaS metrics, recorded on `meter`'s instruments.
    #[cfg(feature = "metrics")]
    pub(crate) fn with_metrics(
        mut self,
        meter: &opentelemetry_sdk::metrics::SdkMeterProvider,
    ) -> Self {
        use opentelemetry::metrics::MeterProvider as _;
        self.metrics = Some(FaasMetrics::new(&meter.meter("lambda-otel")));
        self
    }

    /// Starts the invocation of `req`: reads the event, finds the parent, calls the hook and
    /// starts the span (see [`Invocation::start`]).
    pub(crate) fn start(&self, req: &LambdaInvocation) -> Invocation {
        Invocation::start(&self.tracer, &self.span, self.on_invocation.as_deref(), req)
    }
}

impl fmt::Debug for LayerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerState")
            .field("flush_mode", &self.flush_mode)
            .field("deadline_guard", &self.deadline_guard)
            .field("span", &self.span)
            .field("on_invocation", &self.on_invocation.is_some())
            .finish_non_exhaustive()
    }
}

/// A tower layer that gives every Lambda invocation an OpenTelemetry span and flushes it
/// before the runtime asks for the next event.
///
/// Made by [`Telemetry::layer`](crate::Telemetry::layer). Add it to the runtime with
/// [`Runtime::layer`](lambda_runtime::Runtime::layer), and wrap the handler with
/// [`OtelLayer::wrap`] so errors, panics and status codes reach the span (see [the module
/// docs](crate::layer)). When telemetry is disabled (`OTEL_SDK_DISABLED=true`) the layer records
/// nothing and reads nothing from the event; it only gives each invocation the context that
/// carries its request id to the stdout log lines.
#[derive(Clone, Default)]
pub struct OtelLayer {
    state: Option<Arc<LayerState>>,
}

impl OtelLayer {
    pub(crate) fn new(state: LayerState) -> Self {
        Self {
            state: Some(Arc::new(state)),
        }
    }

    /// The state its services share; `None` for [`OtelLayer::disabled`].
    pub(crate) fn state(&self) -> Option<&LayerState> {
        self.state.as_deref()
    }

    /// A layer that does nothing, for a function built without telemetry.
    #[must_use]
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Calls `hook` for every invocation before its span starts, with the raw event and the
    /// name and attributes the wrapper chose: to add attributes of your own, rename the span,
    /// or remove an attribute. Default: no hook. Use the same layer for `.layer(..)` and
    /// [`wrap`](Self::wrap) (set the hook first).
    ///
    /// ```
    /// use lambda_otel::layer::SpanStart;
    /// use opentelemetry::KeyValue;
    ///
    /// # let telemetry = lambda_otel::Telemetry::builder().with_sdk_disabled(true).build().unwrap();
    /// let otel = telemetry.layer().with_on_invocation(|span: &mut SpanStart<'_>| {
    ///     #[derive(serde::Deserialize)]
    ///     struct Tenant<'a> { tenant: Option<&'a str> }
    ///     if let Ok(Tenant { tenant: Some(tenant) }) = serde_json::from_slice(span.event()) {
    ///         span.set_attribute(KeyValue::new("app.tenant", tenant.to_owned()));
    ///     }
    /// });
    /// ```
    #[must_use]
    pub fn with_on_invocation(mut self, hook: impl OnInvocation) -> Self {
        if let Some(state) = &mut self.state {
            Arc::make_mut(state).on_invocation = Some(Arc::new(hook));
        }
        self
    }

    /// Wraps the handler (a `Service<LambdaEvent<T>>`, or a `lambda_http::Adapter`) so the
    /// invocation span records the handler's error, a panic and the response's HTTP status
    /// code, and so before-response flushing can happen before the response is posted.
    #[must_use]
    pub fn wrap<S>(&self, handler: S) -> OtelHandler<S> {
        OtelHandler::new(handler, self.state.clone(), ())
    }
}

impl<S> Layer<S> for OtelLayer {
    type Service = OtelService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelService::new(inner, self.state.clone())
    }
}

impl fmt::Debug for OtelLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OtelLayer");
        match &self.state {
            Some(state) => d
                .field("flush_mode", &state.flush_mode)
                .field("exporting", &state.flusher.is_some()),
            None => d.field("enabled", &false),
        }
        .finish()
    }
}
