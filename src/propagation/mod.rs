//! Where the invocation span's parent and links come from: the propagators of
//! `OTEL_PROPAGATORS` over the event's trace headers, and Lambda's own X-Ray header; what an
//! X-Ray header's `Sampled` flag decides (the marker and the sampler that reads it); the global
//! propagator for outgoing calls.
//!
//! May use `config` and the ground modules (`attributes`, `error`); besides these, only
//! `export`'s `xray_compatible`, the X-Ray exporter's rule for which trace ids it can send.
//! Never `invocation` or `layer`, which call it: the invocation passes what extraction reads as
//! [`ExtractSettings`]. `trigger` fills the carriers ([`TraceHeaders`]) defined here.

mod carrier;
mod extract;
mod outgoing;
mod xray_header;
mod xray_sampled;

pub(crate) use carrier::TraceHeaders;
pub(crate) use extract::{ExtractSettings, Extracted, extract, record_link};
pub(crate) use outgoing::outgoing;
pub(crate) use xray_sampled::LambdaSampler;
