//! The X-Ray trace header (`X-Amzn-Trace-Id`, SQS's `AWSTraceHeader`, Lambda's own): the parent
//! it names. What its `Sampled` flag means is [`xray_sampled`](super::xray_sampled)'s rule.

use opentelemetry::trace::SpanContext;

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
}
