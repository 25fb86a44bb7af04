//! The runtime-level service: one span per invocation, flushed before the next `/next`.

use super::future::InvocationFuture;
use super::layer::LayerState;
use lambda_runtime::LambdaInvocation;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// The service made by [`OtelLayer`](crate::OtelLayer) around lambda_runtime's invocation
/// stack. `Clone` when the inner service is, so `Runtime::run_concurrent` works.
#[derive(Debug, Clone)]
pub struct OtelService<S> {
    inner: S,
    state: Option<Arc<LayerState>>,
}

impl<S> OtelService<S> {
    pub(crate) fn new(inner: S, state: Option<Arc<LayerState>>) -> Self {
        Self { inner, state }
    }
}

impl<S> Service<LambdaInvocation> for OtelService<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InvocationFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: LambdaInvocation) -> Self::Future {
        let Some(state) = &self.state else {
            return InvocationFuture::new(self.inner.call(req), None);
        };
        let invocation = state.start(&req);
        // The handler may run code as soon as it is called: attach the span for the call too.
        let future = {
            let _attached = invocation.context().clone().attach();
            self.inner.call(req)
        };
        InvocationFuture::new(future, Some((invocation, Arc::clone(state))))
    }
}
