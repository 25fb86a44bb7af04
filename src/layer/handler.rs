//! The handler-level service: the outcome the runtime level cannot see.

use super::OnResponse;
use super::future::HandlerFuture;
use super::layer::LayerState;
use crate::invocation::{Invocation, Outcome, outcome};
use futures_util::TryFuture;
use lambda_runtime::{Diagnostic, LambdaEvent};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// The handler wrapped by [`OtelLayer::wrap`](crate::OtelLayer::wrap).
///
/// Records on the invocation span the handler's error (`error.type`, an `exception` event,
/// status Error), a panic (the same, then the panic goes on to lambda_runtime, which reports it
/// to Lambda as before), and the HTTP status code of the response. Errors are converted into
/// lambda_runtime's [`Diagnostic`] here rather than in the runtime: what Lambda receives is the
/// same.
#[derive(Debug, Clone)]
pub struct OtelHandler<S, R = ()> {
    pub(super) inner: S,
    pub(super) state: Option<Arc<LayerState>>,
    pub(super) on_response: R,
}

impl<S> OtelHandler<S> {
    pub(crate) fn new(inner: S, state: Option<Arc<LayerState>>, on_response: ()) -> Self {
        Self {
            inner,
            state,
            on_response,
        }
    }
}

impl<S, R> OtelHandler<S, R> {
    /// Calls `hook` with every response the handler returns, before the span ends, to record
    /// attributes of your own from it. Default: no hook.
    ///
    /// ```
    /// use lambda_runtime::{Error, LambdaEvent, service_fn};
    /// use opentelemetry::{KeyValue, trace::SpanRef};
    /// use serde_json::Value;
    ///
    /// # let telemetry = lambda_otel::Telemetry::builder().with_sdk_disabled(true).build().unwrap();
    /// let handler = telemetry
    ///     .layer()
    ///     .wrap(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) }))
    ///     .with_on_response(|response: &Value, span: &SpanRef<'_>| {
    ///         span.set_attribute(KeyValue::new("app.items", response["items"].as_i64().unwrap_or(0)));
    ///     });
    /// ```
    #[must_use]
    pub fn with_on_response<R2>(self, hook: R2) -> OtelHandler<S, R2> {
        OtelHandler {
            inner: self.inner,
            state: self.state,
            on_response: hook,
        }
    }
}

impl<S, T, R> Service<LambdaEvent<T>> for OtelHandler<S, R>
where
    S: Service<LambdaEvent<T>>,
    S::Error: Into<Diagnostic>,
    S::Response: 'static,
    R: OnResponse<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = Diagnostic;
    type Future = HandlerFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let inner = &mut self.inner;
        call_tracked(self.state.as_ref(), &self.on_response, || inner.call(event))
    }
}

/// Calls the handler under the current invocation, if any: marks it handled once the call has
/// returned its future, and records a panic raised by the call itself before letting it go on
/// to lambda_runtime (the invocation is then not handled here: the outer service ends it).
pub(super) fn call_tracked<F: TryFuture, R: Clone>(
    state: Option<&Arc<LayerState>>,
    on_response: &R,
    call: impl FnOnce() -> F,
) -> HandlerFuture<F, R> {
    let tracked = state.and_then(|state| Some((state, Invocation::current()?)));
    let Some((state, invocation)) = tracked else {
        return HandlerFuture::new(call(), None, on_response.clone());
    };
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(future) => {
            // Only now: a call that panicked has no future to end the span, so the outer
            // service must (see `LayerState::finish_at`).
            invocation.mark_handled();
            HandlerFuture::new(
                future,
                Some((invocation, Arc::clone(state))),
                on_response.clone(),
            )
        }
        Err(payload) => {
            record_panic(&invocation, payload.as_ref());
            resume_unwind(payload)
        }
    }
}

fn record_panic(invocation: &Invocation, payload: &(dyn Any + Send)) {
    let message = outcome::panic_message(payload);
    invocation.record(&Outcome::Panic { message });
}
