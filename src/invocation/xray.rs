//! The parent from Lambda's X-Ray header, and what its `Sampled=0` means.

use crate::config::XraySampled;
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};

/// Marks a parent context whose X-Ray header said `Sampled=0` while that is to be ignored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnsampledXrayParent;

/// The parent context for an invocation: its X-Ray header's Root and Parent, if any.
pub(crate) fn parent_context(base: &Context, header: Option<&str>, rule: XraySampled) -> Context {
    let Some(span_context) = header.and_then(parse) else {
        return base.clone();
    };
    let unsampled = !span_context.is_sampled();
    let cx = base.with_remote_span_context(span_context);
    if unsampled && rule == XraySampled::Ignore {
        cx.with_value(UnsampledXrayParent)
    } else {
        cx
    }
}

fn parse(header: &str) -> Option<SpanContext> {
    opentelemetry_aws::trace::xray_propagator::span_context_from_str(header)
        .filter(SpanContext::is_valid)
}

/// The configured sampler, except that a parent marked [`UnsampledXrayParent`] is sampled as
/// if the span were a root: it keeps its trace and parent ids, but `Sampled=0` decides nothing.
#[derive(Debug, Clone)]
pub(crate) struct LambdaSampler(pub(crate) Sampler);

impl ShouldSample for LambdaSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[opentelemetry::trace::Link],
    ) -> SamplingResult {
        let parent = parent_context.filter(|cx| cx.get::<UnsampledXrayParent>().is_none());
        let mut result = self
            .0
            .should_sample(parent, trace_id, name, span_kind, attributes, links);
        if parent.is_none() && parent_context.is_some() {
            // The root decision has no trace state to carry; keep the parent's.
            result.trace_state = parent_context
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::SpanId;
    use opentelemetry_sdk::trace::SamplingDecision;

    const SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const UNSAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1";

    fn decide(cx: &Context, sampler: Sampler) -> SamplingDecision {
        let trace_id = cx.span().span_context().trace_id();
        LambdaSampler(sampler)
            .should_sample(Some(cx), trace_id, "x", &SpanKind::Server, &[], &[])
            .decision
    }

    #[test]
    fn header_gives_trace_and_parent_ids() {
        let cx = parent_context(&Context::new(), Some(SAMPLED), XraySampled::Ignore);
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id(),
            TraceId::from_hex("5759e988bd862e3fe1be46a994272793").expect("hex")
        );
        assert_eq!(
            sc.span_id(),
            SpanId::from_hex("53995c3f42cd8ad8").expect("hex")
        );
        assert!(sc.is_remote() && sc.is_sampled());
    }

    #[test]
    fn unsampled_header_is_ignored_by_default_and_obeyed_on_request() {
        let parent_based = || Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
        let ignore = parent_context(&Context::new(), Some(UNSAMPLED), XraySampled::Ignore);
        assert_eq!(
            decide(&ignore, parent_based()),
            SamplingDecision::RecordAndSample
        );
        let honor = parent_context(&Context::new(), Some(UNSAMPLED), XraySampled::Honor);
        assert_eq!(decide(&honor, parent_based()), SamplingDecision::Drop);
        // Ignoring Sampled=0 hands the decision to the root sampler, not to "always sample".
        assert_eq!(
            decide(&ignore, Sampler::ParentBased(Box::new(Sampler::AlwaysOff))),
            SamplingDecision::Drop
        );
    }

    #[test]
    fn malformed_or_missing_header_gives_no_parent() {
        for header in [
            None,
            Some(""),
            Some("Root=garbage"),
            Some("Parent=53995c3f42cd8ad8"),
        ] {
            let cx = parent_context(&Context::new(), header, XraySampled::Ignore);
            assert!(!cx.has_active_span(), "{header:?}");
        }
    }
}
