//! The crate's own span attributes. Semantic-convention keys come from
//! `opentelemetry-semantic-conventions`; these cover what the conventions do not define.

/// Duration of the invocation in nanoseconds (integer), measured with a monotonic clock.
/// It equals the span's end time minus its start time exactly.
pub const INVOCATION_DURATION_NS: &str = "lambda_otel.invocation.duration_ns";

/// On the cold-start invocation only: nanoseconds from process start to the invocation.
pub const INIT_DURATION_NS: &str = "lambda_otel.init.duration_ns";

/// `messaging.system` for Kinesis, which the conventions do not list (they list `aws_sqs` and
/// `aws.sns`).
pub const MESSAGING_SYSTEM_KINESIS: &str = "aws.kinesis";

/// `messaging.system` for DynamoDB Streams, which the conventions do not list.
pub const MESSAGING_SYSTEM_DYNAMODB_STREAMS: &str = "aws.dynamodb_streams";

/// The `source` of an EventBridge event (`aws.events`, `com.example.orders`); the conventions
/// define no EventBridge attributes.
pub const EVENTBRIDGE_SOURCE: &str = "lambda_otel.eventbridge.source";

/// The `detail-type` of an EventBridge event (`Scheduled Event`, `OrderPlaced`).
pub const EVENTBRIDGE_DETAIL_TYPE: &str = "lambda_otel.eventbridge.detail_type";

/// The `id` of an EventBridge event.
pub const EVENTBRIDGE_EVENT_ID: &str = "lambda_otel.eventbridge.event_id";

/// The `resources` of an EventBridge event (for a scheduled rule, the rule's ARN), as a string
/// array of at most 16 entries.
pub const EVENTBRIDGE_RESOURCES: &str = "lambda_otel.eventbridge.resources";

/// `text` cut at a character boundary to at most `max` bytes: every string the crate records
/// from outside (an event, an error, a panic) is bounded.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
