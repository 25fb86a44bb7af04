//! `ExportTraceServiceRequest`: one `ResourceSpans`, the spans grouped by their instrumentation
//! scope in the order the scopes first appear, each span as opentelemetry-proto converts it.

use super::{
    EncodedResource, bytes, fixed32, fixed64, instrumentation_scope, key_value, message, nanos,
    string, uint,
};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

/// `SpanFlags`: the context says whether it is remote, and whether it is.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// The request body for `spans`.
pub(crate) fn traces_request(spans: &[SpanData], resource: &EncodedResource) -> Vec<u8> {
    // About what the dice roller's spans take, so the body is rarely grown while written.
    let mut buf = Vec::with_capacity(resource.resource.len() + 64 + spans.len() * 640);
    message(&mut buf, 1, |buf| {
        buf.extend_from_slice(&resource.resource);
        for (scope, spans) in by_scope(spans) {
            message(buf, 2, |buf| {
                message(buf, 1, |buf| {
                    instrumentation_scope(buf, scope.name(), scope)
                });
                for span in spans {
                    message(buf, 2, |buf| self::span(buf, span));
                }
                string(buf, 3, scope.schema_url().unwrap_or_default());
            });
        }
        buf.extend_from_slice(&resource.schema_url);
    });
    buf
}

/// The spans of each scope, scopes in the order they first appear. A batch has a handful of
/// scopes (one per tracer), so a list is searched rather than a map built.
fn by_scope(spans: &[SpanData]) -> Vec<(&InstrumentationScope, Vec<&SpanData>)> {
    let mut groups: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
    for span in spans {
        let scope = &span.instrumentation_scope;
        match groups.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, spans)) => spans.push(span),
            None => groups.push((scope, vec![span])),
        }
    }
    groups
}

fn span(buf: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    bytes(buf, 1, &cx.trace_id().to_bytes());
    bytes(buf, 2, &cx.span_id().to_bytes());
    string(buf, 3, &cx.trace_state().header());
    if span.parent_span_id != SpanId::INVALID {
        bytes(buf, 4, &span.parent_span_id.to_bytes());
    }
    string(buf, 5, &span.name);
    uint(buf, 6, span_kind(&span.span_kind));
    fixed64(buf, 7, nanos(span.start_time));
    fixed64(buf, 8, nanos(span.end_time));
    for kv in &span.attributes {
        key_value(buf, 9, kv.key.as_str(), &kv.value);
    }
    uint(buf, 10, span.dropped_attributes_count.into());
    for event in &span.events.events {
        message(buf, 11, |buf| {
            fixed64(buf, 1, nanos(event.timestamp));
            string(buf, 2, &event.name);
            for kv in &event.attributes {
                key_value(buf, 3, kv.key.as_str(), &kv.value);
            }
            uint(buf, 4, event.dropped_attributes_count.into());
        });
    }
    uint(buf, 12, span.events.dropped_count.into());
    for link in &span.links.links {
        let cx = &link.span_context;
        message(buf, 13, |buf| {
            bytes(buf, 1, &cx.trace_id().to_bytes());
            bytes(buf, 2, &cx.span_id().to_bytes());
            string(buf, 3, &cx.trace_state().header());
            for kv in &link.attributes {
                key_value(buf, 4, kv.key.as_str(), &kv.value);
            }
            uint(buf, 5, link.dropped_attributes_count.into());
            fixed32(buf, 6, flags(cx.is_remote(), cx.trace_flags().to_u8()));
        });
    }
    uint(buf, 14, span.links.dropped_count.into());
    // Always there, as opentelemetry-proto writes it: `Status` with code 0 is still a status.
    message(buf, 15, |buf| {
        let code = match &span.status {
            Status::Unset => 0,
            Status::Ok => 1,
            Status::Error { description } => {
                string(buf, 2, description);
                2
            }
        };
        uint(buf, 3, code);
    });
    fixed32(
        buf,
        16,
        flags(span.parent_span_is_remote, cx.trace_flags().to_u8()),
    );
}

/// `Span.SpanKind`'s numbers.
fn span_kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn flags(remote: bool, trace_flags: u8) -> u32 {
    let remote = if remote { IS_REMOTE } else { 0 };
    u32::from(trace_flags) | HAS_IS_REMOTE | remote
}
