//! The hook that sees the handler's response.

use opentelemetry::trace::SpanRef;

/// A hook called with the handler's response, before the span ends: it may add attributes or
/// events, or set the status. Set with [`OtelHandler::with_on_response`](crate::OtelHandler::with_on_response).
///
/// `T` is the handler's response type (for `lambda_http`, `Response<Body>`). Implemented for
/// closures `Fn(&T, &SpanRef<'_>)`, and for `()` (no hook).
///
/// A panic in the hook is caught and reported; the response still reaches Lambda.
pub trait OnResponse<T> {
    /// Called once per successful handler call. Errors and panics are recorded by the wrapper.
    fn on_response(&self, response: &T, span: &SpanRef<'_>);
}

impl<T> OnResponse<T> for () {
    fn on_response(&self, _: &T, _: &SpanRef<'_>) {}
}

impl<T, F> OnResponse<T> for F
where
    F: Fn(&T, &SpanRef<'_>),
{
    fn on_response(&self, response: &T, span: &SpanRef<'_>) {
        self(response, span);
    }
}
