//! Where the invocation span's parent and links come from: the propagators of
//! `OTEL_PROPAGATORS` over the event's trace headers, and Lambda's own X-Ray header.

mod carrier;
mod extract;
mod outgoing;
mod xray_header;
mod xray_sampled;

pub(crate) use carrier::TraceHeaders;
pub(crate) use extract::{ExtractSettings, Extracted, extract, record_link};
pub(crate) use outgoing::outgoing;
pub(crate) use xray_sampled::LambdaSampler;
