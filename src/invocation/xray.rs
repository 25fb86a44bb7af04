//! The sampler that applies the X-Ray `Sampled=0` rule.

use crate::propagation::UnsampledXrayParent;
use opentelemetry::trace::{SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};

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
    use crate::config::XraySampled;
    use crate::propagation::{with_xray_parent, xray_span_context};
    use opentelemetry_sdk::trace::SamplingDecision;

    const SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const UNSAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1";

    fn parent(header: &str, rule: XraySampled) -> Context {
        let sc = xray_span_context(header).expect("a parent");
        with_xray_parent(&Context::new(), sc, rule)
    }

    fn sample(cx: &Context, sampler: Sampler) -> SamplingResult {
        let trace_id = cx.span().span_context().trace_id();
        LambdaSampler(sampler).should_sample(Some(cx), trace_id, "x", &SpanKind::Server, &[], &[])
    }

    #[test]
    fn sampled_0_is_ignored_by_default_and_obeyed_on_request() {
        let parent_based = || Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
        let ignore = parent(UNSAMPLED, XraySampled::Ignore);
        let result = sample(&ignore, parent_based());
        assert_eq!(result.decision, SamplingDecision::RecordAndSample);
        assert_eq!(
            result.trace_state.get("lineage"),
            Some("a:1"),
            "the root decision keeps the parent's trace state"
        );
        let honor = parent(UNSAMPLED, XraySampled::Honor);
        assert_eq!(
            sample(&honor, parent_based()).decision,
            SamplingDecision::Drop
        );
        // Ignoring Sampled=0 hands the decision to the root sampler, not to "always sample".
        let off = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        assert_eq!(sample(&ignore, off).decision, SamplingDecision::Drop);
    }

    #[test]
    fn sampled_1_is_followed() {
        let off = || Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        for rule in [XraySampled::Ignore, XraySampled::Honor] {
            let cx = parent(SAMPLED, rule);
            assert_eq!(
                sample(&cx, off()).decision,
                SamplingDecision::RecordAndSample
            );
        }
    }
}
