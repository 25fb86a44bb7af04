//! The global propagator for outgoing calls, from the same `OTEL_PROPAGATORS` list, so a
//! client that injects context (`opentelemetry::global::get_text_map_propagator`) sends the
//! formats the function was told to speak.

use crate::config::Propagator;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// A composite of the configured propagators; `xray` and `xray-lambda` both inject
/// `X-Amzn-Trace-Id`. An empty list injects nothing.
pub(crate) fn outgoing(propagators: &[Propagator]) -> TextMapCompositePropagator {
    let mut parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    let mut xray = false;
    for propagator in propagators {
        match propagator {
            Propagator::TraceContext => parts.push(Box::new(TraceContextPropagator::new())),
            Propagator::Baggage => parts.push(Box::new(BaggagePropagator::new())),
            Propagator::Xray | Propagator::XrayLambda if !xray => {
                xray = true;
                parts.push(Box::new(XrayPropagator::default()));
            }
            Propagator::Xray | Propagator::XrayLambda => {}
        }
    }
    TextMapCompositePropagator::new(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Context;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use std::collections::HashMap;

    fn injected(propagators: &[Propagator]) -> HashMap<String, String> {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
            SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let cx = Context::new().with_remote_span_context(span);
        let mut headers = HashMap::new();
        outgoing(propagators).inject_context(&cx, &mut headers);
        headers
    }

    #[test]
    fn injects_the_configured_formats_only() {
        let w3c = injected(&[Propagator::TraceContext, Propagator::Baggage]);
        assert_eq!(
            w3c.get("traceparent").map(String::as_str),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert!(!w3c.contains_key("x-amzn-trace-id"));
        let both = injected(&[
            Propagator::TraceContext,
            Propagator::XrayLambda,
            Propagator::Xray,
        ]);
        assert_eq!(
            both.get("x-amzn-trace-id").map(String::as_str),
            Some("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1")
        );
        assert!(injected(&[]).is_empty());
    }
}
