//! `lambda_http` handlers: the wrapper goes inside the `Adapter`, where the response is still
//! an `http::Response` whose status code can be read.

use super::future::HandlerFuture;
use super::handler::call_tracked;
use super::{OnResponse, OtelHandler};
use futures_util::future::BoxFuture;
use lambda_http::{Body, IntoResponse, Request, Response};
use lambda_runtime::Diagnostic;
use std::task::{Context, Poll};
use tower::Service;

type ResponseFuture<E> = BoxFuture<'static, Result<Response<Body>, E>>;

/// For `lambda_http`: `Adapter::from(otel.wrap(service_fn(handler)))`.
impl<S, R> Service<Request> for OtelHandler<S, R>
where
    S: Service<Request>,
    S::Response: IntoResponse,
    S::Error: Into<Diagnostic> + Send + 'static,
    S::Future: Send + 'static,
    R: OnResponse<Response<Body>> + Clone,
{
    type Response = Response<Body>;
    type Error = Diagnostic;
    type Future = HandlerFuture<ResponseFuture<S::Error>, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let inner = &mut self.inner;
        call_tracked(
            self.state.as_ref(),
            &self.on_response,
            || -> ResponseFuture<S::Error> {
                let future = inner.call(request);
                Box::pin(async move {
                    let response = future.await?;
                    Ok(response.into_response().await)
                })
            },
        )
    }
}
