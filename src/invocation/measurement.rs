//! What one invocation adds to the FaaS metrics: the same input with the `metrics` feature
//! (`metrics.rs` records it) and without it (`no_metrics.rs` has nothing to record it in).

use std::time::Duration;

/// What one invocation adds to the metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measurement {
    /// `faas.trigger`, the only attribute: the conventions keep these metrics low-cardinality.
    pub trigger: &'static str,
    pub duration: Duration,
    /// The handler returned an error or panicked (what Lambda counts as an error).
    pub failed: bool,
    /// Start-up time, for the cold start only.
    pub init: Option<Duration>,
}
