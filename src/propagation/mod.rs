//! Where the invocation span's parent and links come from: the propagators of
//! `OTEL_PROPAGATORS` over the event's trace headers, and Lambda's own X-Ray header.

mod carrier;
mod extract;
mod outgoing;
mod xray;

pub(crate) use carrier::TraceHeaders;
pub(crate) use extract::{ExtractSettings, Extracted, extract, record_link};
pub(crate) use outgoing::outgoing;
pub(crate) use xray::UnsampledXrayParent;
#[cfg(test)]
pub(crate) use xray::{span_context as xray_span_context, with_parent as with_xray_parent};
