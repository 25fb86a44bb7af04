//! The trace-context values an event carries: HTTP headers, or a message's attributes.

use std::borrow::Cow;

/// The propagation fields found in one carrier (an HTTP request's headers, or one message of a
/// batch), borrowed from the raw event where possible. Header names are matched in any case.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TraceHeaders<'a> {
    /// W3C `traceparent`.
    pub traceparent: Option<Cow<'a, str>>,
    /// W3C `tracestate`.
    pub tracestate: Option<Cow<'a, str>>,
    /// W3C `baggage`.
    pub baggage: Option<Cow<'a, str>>,
    /// `X-Amzn-Trace-Id` (or SQS's `AWSTraceHeader` system attribute).
    pub xray: Option<Cow<'a, str>>,
}

impl TraceHeaders<'_> {
    /// True when the carrier holds no propagation field at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.traceparent.is_none()
            && self.tracestate.is_none()
            && self.baggage.is_none()
            && self.xray.is_none()
    }
}
