//! What the invocation span holds, and the process-wide facts it reads.

pub(crate) mod coldstart;
mod event;
pub(crate) mod outcome;
mod span;
mod xray;

pub(crate) use outcome::Outcome;
pub(crate) use span::{Invocation, SpanSettings};
pub(crate) use xray::LambdaSampler;
