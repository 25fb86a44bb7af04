//! What an X-Ray parent's `Sampled` flag decides, in one place. `Sampled=1` is followed;
//! `Sampled=0` only under [`XraySampled::Honor`] (Lambda sends `Sampled=0` even with Active
//! tracing off, so by default it decides nothing); `Sampled=?` or no flag never. A decision
//! not followed leaves the span to the configured sampler as if it were a root, and the span
//! still joins the header's trace under its parent.
//!
//! The rule takes two steps, both here: extraction marks the parent context whose decision is
//! not to be followed ([`with_parent`]), and [`LambdaSampler`], the tracer's sampler, reads
//! the mark.

use crate::config::XraySampled;
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};

/// opentelemetry-aws's flag for `Sampled=?` or no `Sampled`: the receiver decides. In W3C
/// trace flags the same bit means something else, so it never reaches a span.
const DEFERRED: TraceFlags = TraceFlags::new(0x02);

/// Marks a parent context whose X-Ray sampling decision the sampler must not follow:
/// `Sampled=0` under [`XraySampled::Ignore`], or a header that made no decision.
/// [`LambdaSampler`] then decides as for a root span.
#[derive(Debug, Clone, Copy)]
struct UnsampledXrayParent;

/// `cx` with `parent` (from an X-Ray header) as its remote parent, marked when its sampling
/// decision is not to be followed.
pub(crate) fn with_parent(cx: &Context, parent: SpanContext, rule: XraySampled) -> Context {
    let deferred = parent.trace_flags() & DEFERRED == DEFERRED;
    let follow = parent.is_sampled() || (!deferred && rule == XraySampled::Honor);
    let parent = SpanContext::new(
        parent.trace_id(),
        parent.span_id(),
        parent.trace_flags() & TraceFlags::SAMPLED,
        true,
        parent.trace_state().clone(),
    );
    let cx = cx.with_remote_span_context(parent);
    if follow {
        cx
    } else {
        cx.with_value(UnsampledXrayParent)
    }
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
    use crate::propagation::xray_header::span_context;
    use opentelemetry_sdk::trace::SamplingDecision;

    const SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const UNSAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1";

    fn parent(header: &str, rule: XraySampled) -> Context {
        let sc = span_context(header).expect("a parent");
        with_parent(&Context::new(), sc, rule)
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

    #[test]
    fn only_a_decision_to_follow_is_left_unmarked() {
        let header = |sampled: &str| {
            span_context(&format!(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8{sampled}"
            ))
            .expect("a parent")
        };
        let marked = |sampled: &str, rule| {
            with_parent(&Context::new(), header(sampled), rule)
                .get::<UnsampledXrayParent>()
                .is_some()
        };
        for rule in [XraySampled::Ignore, XraySampled::Honor] {
            assert!(!marked(";Sampled=1", rule), "{rule:?}");
            assert!(marked(";Sampled=?", rule), "no decision, {rule:?}");
            assert!(marked("", rule), "no decision, {rule:?}");
        }
        assert!(marked(";Sampled=0", XraySampled::Ignore));
        assert!(!marked(";Sampled=0", XraySampled::Honor));
    }

    #[test]
    fn the_deferred_flag_stays_out_of_the_parent() {
        let deferred = span_context(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
        )
        .expect("a parent");
        let cx = with_parent(&Context::new(), deferred, XraySampled::Ignore);
        assert_eq!(
            cx.span().span_context().trace_flags(),
            TraceFlags::default()
        );
    }
}
