//! The handler-level service: the outcome the runtime level cannot see.

use super::future::HandlerFuture;
use super::layer::Shared;
use crate::invocation::{Invocation, Outcome, outcome};
use futures_util::FutureExt as _;
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
pub struct OtelHandler<S> {
    pub(super) inner: S,
    pub(super) shared: Option<Arc<Shared>>,
}

impl<S> OtelHandler<S> {
    pub(crate) fn new(inner: S, shared: Option<Arc<Shared>>) -> Self {
        Self { inner, shared }
    }
}

impl<S, T> Service<LambdaEvent<T>> for OtelHandler<S>
where
    S: Service<LambdaEvent<T>>,
    S::Error: Into<Diagnostic>,
    S::Response: 'static,
{
    type Response = S::Response;
    type Error = Diagnostic;
    type Future = HandlerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let tracked = self.shared.as_ref().zip(Invocation::current());
        let Some((shared, invocation)) = tracked else {
            return HandlerFuture::passthrough(
                AssertUnwindSafe(self.inner.call(event)).catch_unwind(),
            );
        };
        let shared = Arc::clone(shared);
        invocation.mark_handled();
        let inner = &mut self.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.call(event))) {
            Ok(future) => {
                HandlerFuture::new(AssertUnwindSafe(future).catch_unwind(), invocation, shared)
            }
            Err(payload) => {
                record_panic(&invocation, payload.as_ref());
                resume_unwind(payload)
            }
        }
    }
}

fn record_panic(invocation: &Invocation, payload: &(dyn Any + Send)) {
    let message = outcome::panic_message(payload);
    Outcome::Panic { message }.record(&invocation.span());
}
