//! The trace-context values an event carries: HTTP headers, or a message's attributes.

use opentelemetry::propagation::Extractor;
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

/// Lets the SDK's propagators read the carrier; names in any case, as in HTTP.
impl Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let field = if key.eq_ignore_ascii_case("traceparent") {
            &self.traceparent
        } else if key.eq_ignore_ascii_case("tracestate") {
            &self.tracestate
        } else if key.eq_ignore_ascii_case("baggage") {
            &self.baggage
        } else if key.eq_ignore_ascii_case("x-amzn-trace-id") {
            &self.xray
        } else {
            return None;
        };
        field.as_deref()
    }

    fn keys(&self) -> Vec<&str> {
        [
            ("traceparent", &self.traceparent),
            ("tracestate", &self.tracestate),
            ("baggage", &self.baggage),
            ("x-amzn-trace-id", &self.xray),
        ]
        .into_iter()
        .filter_map(|(name, field)| field.as_ref().map(|_| name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagators_read_fields_by_any_case_of_their_names() {
        let carrier = TraceHeaders {
            traceparent: Some(Cow::Borrowed("tp")),
            xray: Some(Cow::Borrowed("Root=1")),
            ..TraceHeaders::default()
        };
        assert_eq!(carrier.get("TraceParent"), Some("tp"));
        assert_eq!(carrier.get("X-Amzn-Trace-Id"), Some("Root=1"));
        assert_eq!(carrier.get("baggage"), None);
        assert_eq!(carrier.get("authorization"), None);
        assert_eq!(carrier.keys(), ["traceparent", "x-amzn-trace-id"]);
    }
}
