//! The X-Ray trace header: the parent it names, and what its `Sampled` flag means.

use crate::config::XraySampled;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};

/// opentelemetry-aws's flag for `Sampled=?` or no `Sampled`: the receiver decides. In W3C
/// trace flags the same bit means something else, so it never reaches a span.
const DEFERRED: TraceFlags = TraceFlags::new(0x02);

/// Marks a parent context whose X-Ray sampling decision the sampler must not follow:
/// `Sampled=0` under [`XraySampled::Ignore`], or a header that made no decision.
/// [`LambdaSampler`](crate::invocation::LambdaSampler) then decides as for a root span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnsampledXrayParent;

/// The span context an X-Ray header names, if it names a parent: a header with a Root but no
/// Parent (as ALB and API Gateway send) does not.
pub(crate) fn span_context(header: &str) -> Option<SpanContext> {
    let header = header.trim();
    if !well_formed(header) {
        return None;
    }
    opentelemetry_aws::trace::xray_propagator::span_context_from_str(header)
        .filter(SpanContext::is_valid)
}

/// The header's `Root` is `1-<8 hex>-<24 hex>` and its `Parent` 16 hex digits, each given
/// once. opentelemetry-aws's parser also takes shorter ids (`Root=9-0-1;Parent=1`), which
/// would join every malformed header into one made-up trace. Other keys (`Sampled`,
/// `Lineage`, `Self`, unknown ones) are left to it.
fn well_formed(header: &str) -> bool {
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (mut root, mut parent) = (None, None);
    for field in header.split(';') {
        match field.trim().split_once('=') {
            Some(("Root", value)) if root.replace(value).is_none() => {}
            Some(("Parent", value)) if parent.replace(value).is_none() => {}
            Some(("Root" | "Parent", _)) => return false,
            _ => {}
        }
    }
    let root_ok = root.is_some_and(|r| {
        let mut parts = r.split('-');
        parts.next() == Some("1")
            && parts.next().is_some_and(|epoch| hex(epoch, 8))
            && parts.next().is_some_and(|id| hex(id, 24))
            && parts.next().is_none()
    });
    root_ok && parent.is_some_and(|p| hex(p, 16))
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceId};

    #[test]
    fn a_header_names_trace_and_parent() {
        let sc = span_context(
            " Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1 ",
        )
        .expect("a parent");
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
    fn malformed_or_parentless_headers_name_no_parent() {
        for header in [
            "Root=9-0-1;Parent=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1",
            "Root=1-5759e98-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=+3995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Parent=1111111111111111",
            "",
            "Root=garbage",
            "Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        ] {
            assert_eq!(span_context(header), None, "{header:?}");
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
