//! `lambda_http` handlers: the wrapper goes inside the `Adapter`, where the response is still
//! an `http::Response` whose status code can be read.

use super::OtelHandler;
use super::future::HandlerFuture;
use crate::invocation::Invocation;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use lambda_http::{Body, IntoResponse, Request, Response};
use lambda_runtime::Diagnostic;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

type ResponseFuture<E> = BoxFuture<'static, Result<Response<Body>, E>>;

/// For `lambda_http`: `Adapter::from(otel.wrap(service_fn(handler)))`.
impl<S> Service<Request> for OtelHandler<S>
where
    S: Service<Request>,
    S::Response: IntoResponse,
    S::Error: Into<Diagnostic> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Diagnostic;
    type Future = HandlerFuture<ResponseFuture<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let future = self.inner.call(request);
        let response: ResponseFuture<S::Error> = Box::pin(async move {
            let response = future.await?;
            Ok(response.into_response().await)
        });
        let future = AssertUnwindSafe(response).catch_unwind();
        match self.shared.as_ref().zip(Invocation::current()) {
            Some((shared, invocation)) => {
                invocation.mark_handled();
                HandlerFuture::new(future, invocation, Arc::clone(shared))
            }
            None => HandlerFuture::passthrough(future),
        }
    }
}
