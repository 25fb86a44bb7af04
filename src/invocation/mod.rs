//! One invocation, from its span's start to its end: what the event and Lambda's context give
//! the span (name, kind, attributes, parent, links), the [`OnInvocation`] hook that may change
//! them, the outcome recorded on the span, its end with the duration, the FaaS metrics, and the
//! process-wide facts it reads (cold start, process start).
//!
//! May use `trigger` (what the event is), `propagation` (where the parent comes from),
//! `config` and the ground modules (`attributes`, `error`); besides these, only `flush`'s
//! `QuietPeriod`, the rate limit of the hook-panic warnings, and `logging`'s `RequestId`, the
//! context value the log lines read. Never `layer` or `telemetry`, which
//! call it: the hooks it calls live here and `layer` re-exports them.

pub(crate) mod coldstart;
mod hook_guard;
mod measurement;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "no_metrics.rs"]
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
pub(crate) use span::Invocation;
