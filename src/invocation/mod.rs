//! What the invocation span holds, and the process-wide facts it reads.

pub(crate) mod coldstart;
mod hook_guard;
mod metrics;
mod on_invocation;
pub(crate) mod outcome;
mod settings;
mod span;

pub(crate) use hook_guard::guarded;
pub(crate) use metrics::FaasMetrics;
pub use on_invocation::{OnInvocation, SpanStart};
pub(crate) use outcome::Outcome;
pub(crate) use settings::SpanSettings;
pub(crate) use span::{Invocation, request_id};
// The sampler is propagation's (the X-Ray `Sampled` rule); telemetry::builder and the bench
// still name it from here.
pub(crate) use crate::propagation::LambdaSampler;
