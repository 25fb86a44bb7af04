//! The layer: configuration only.

use super::{OnInvocation, OtelHandler, OtelService};
use crate::config::FlushMode;
use crate::flush::Flusher;
use crate::invocation::{FaasMetrics, SpanSettings};
use opentelemetry_sdk::trace::SdkTracer;
use std::fmt;
use std::sync::Arc;
use tower::Layer;

/// What every service made by the layer shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub tracer: SdkTracer,
    /// `None` when nothing is exported (every signal's exporter is `none`).
    pub flusher: Option<Flusher>,
    /// `None` when metrics are off.
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

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
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
    pub(crate) shared: Option<Arc<Shared>>,
}

impl OtelLayer {
    pub(crate) fn new(shared: Shared) -> Self {
        Self {
            shared: Some(Arc::new(shared)),
        }
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
        if let Some(shared) = &mut self.shared {
            Arc::make_mut(shared).on_invocation = Some(Arc::new(hook));
        }
        self
    }

    /// Wraps the handler (a `Service<LambdaEvent<T>>`, or a `lambda_http::Adapter`) so the
    /// invocation span records the handler's error, a panic and the response's HTTP status
    /// code, and so before-response flushing can happen before the response is posted.
    #[must_use]
    pub fn wrap<S>(&self, handler: S) -> OtelHandler<S> {
        OtelHandler::new(handler, self.shared.clone(), ())
    }
}

impl<S> Layer<S> for OtelLayer {
    type Service = OtelService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelService::new(inner, self.shared.clone())
    }
}

impl fmt::Debug for OtelLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OtelLayer");
        match &self.shared {
            Some(shared) => d
                .field("flush_mode", &shared.flush_mode)
                .field("exporting", &shared.flusher.is_some()),
            None => d.field("enabled", &false),
        }
        .finish()
    }
}
