//! The crate's own span attributes. Semantic-convention keys come from
//! `opentelemetry-semantic-conventions`; these cover what the conventions do not define.

/// Duration of the invocation in nanoseconds (integer), measured with a monotonic clock.
/// It equals the span's end time minus its start time exactly.
pub const INVOCATION_DURATION_NS: &str = "lambda_otel.invocation.duration_ns";

/// On the cold-start invocation only: nanoseconds from process start to the invocation.
pub const INIT_DURATION_NS: &str = "lambda_otel.init.duration_ns";
