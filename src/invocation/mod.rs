//! What the invocation span holds, and the process-wide facts it reads.

pub(crate) mod coldstart;
mod metrics;
pub(crate) mod outcome;
mod settings;
mod span;
mod xray;

pub(crate) use metrics::FaasMetrics;
pub(crate) use outcome::Outcome;
pub(crate) use settings::SpanSettings;
pub(crate) use span::{Invocation, request_id};
pub(crate) use xray::LambdaSampler;
