//! Reading the raw event: which service invoked the function, and what the invocation span
//! takes from the event (kind, name, attributes, and the trace contexts it carries, for
//! `propagation` to extract). `invocation` calls `inspect` once per invocation, before the
//! handler reads the event as its own type.
//!
//! This module is on the layer that reads the event, beside `propagation`: it may use `config`,
//! `attributes` and the carrier it fills (`propagation`'s `TraceHeaders`), and nothing above
//! it (`invocation`, `layer`, `flush`, `export`, `telemetry`). It knows nothing of exporters,
//! and it needs no configuration but the query keys to redact, which the caller passes in.
//!
//! The wrapper makes one borrowed pass over the event, reading only the fields below; bodies,
//! `detail`, DynamoDB images and every other field are skipped without being built, and every
//! recorded value is cut to [`MAX_VALUE_LEN`] bytes. An event that is not JSON, or in no known
//! shape, is a direct invocation (`faas.trigger=other`); inspection never fails the invocation.
//!
//! | source | `faas.trigger` | kind | span name | attributes |
//! | --- | --- | --- | --- | --- |
//! | API Gateway REST API (payload 1.0), HTTP API (2.0), Function URL, ALB | `http` | SERVER | `GET /users/{id}` (`GET` without a route) | `http.request.method`, `http.route`, `url.path`, `url.query` (redacted), `url.scheme`, `server.address`, `client.address`, `user_agent.original`, `network.protocol.version`; `http.response.status_code` from the response |
//! | SQS | `pubsub` | CONSUMER | `<queue> process` | `messaging.system=aws_sqs`, `messaging.operation.type=process`, `messaging.destination.name`, `messaging.batch.message_count` (or `messaging.message.id` for one message), `aws.sqs.queue.url` |
//! | SNS | `pubsub` | CONSUMER | `<topic> process` | the same with `messaging.system=aws.sns`, `aws.sns.topic.arn` |
//! | Kinesis | `pubsub` | CONSUMER | `<stream> process` | the same with `messaging.system=aws.kinesis`, `aws.kinesis.stream_name` |
//! | DynamoDB Streams | `datasource` | CONSUMER | `<table> process` | the same with `messaging.system=aws.dynamodb_streams`, `aws.dynamodb.table_names`, `faas.document.collection`, `faas.document.operation` |
//! | S3 | `datasource` | SERVER | the function name | `faas.document.collection`/`aws.s3.bucket`, `faas.document.name`/`aws.s3.key`, `faas.document.operation`, `faas.document.time` |
//! | EventBridge | `pubsub` | CONSUMER | the function name | `lambda_otel.eventbridge.source`, `.detail_type`, `.event_id`, `.resources` |
//! | scheduled rule / EventBridge Scheduler | `timer` | SERVER | the function name | `faas.time`, and the EventBridge attributes |
//! | CloudWatch Logs subscription | `pubsub` | CONSUMER | the function name | `aws.log.group.names`, `aws.log.stream.names` (with the `cloudwatch-logs` feature) |
//! | anything else (direct invocation) | `other` | SERVER | the function name | |
//!
//! Records of SQS and SNS batches that carry their producer's trace context (SQS's
//! `AWSTraceHeader` system attribute, or a W3C `traceparent` message attribute) become span
//! links; a batch has no parent of its own beyond Lambda's (see
//! [`Propagator`](crate::config::Propagator)).
//!
//! # Why a borrowed probe rather than `aws_lambda_events`
//!
//! The wrapper sees the event as bytes, and which source sent it is known only once it is
//! read. So it is read once into one probe (`probe.rs`) that lists every field any source
//! needs, by a JSON reader of the crate's own (`json.rs`) that borrows strings from the bytes
//! (`de::Str`) and skips the rest unbuilt. `aws_lambda_events`' types would need the source
//! first (or one attempt per type), and each builds the whole event: every header into a map,
//! the body, the request context. The cost per invocation, from `benches/inspect.rs` (README,
//! "Where the time goes inside the process"): a 2 KB HTTP API event with 27 headers is read in
//! 2.2 µs where serde_json merely skipping its bytes takes 1.2 µs, and a 10-record SQS batch in
//! 6.8 µs against 4.9 µs (2026-11-29; 2.9 and 9.0 µs with serde's derived deserialisers, which
//! were also the crate's two largest functions). Deserializing the same samples into
//! `aws_lambda_events` 1.2.1's `ApiGatewayV2httpRequest` and `SqsEvent` (a throwaway criterion
//! bench, not kept, in one run with `inspect` on a busy machine, 2026-11-21) took about 3 and 2
//! times as long as the serde probe of then: 15.6 µs against 5.5 µs, and 32 µs against 17.6 µs.

mod bound;
mod de;
mod events;
mod http;
mod json;
mod logs;
mod probe;
mod query;
mod records;

pub use bound::MAX_VALUE_LEN;

use crate::propagation::TraceHeaders;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use std::fmt;

/// The service that invoked the function, as read from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventSource {
    /// API Gateway REST API (payload format 1.0).
    ApiGatewayRest,
    /// API Gateway HTTP API (payload format 2.0).
    ApiGatewayHttp,
    /// A Lambda Function URL.
    FunctionUrl,
    /// An Application Load Balancer.
    Alb,
    /// An SQS queue.
    Sqs,
    /// An SNS topic.
    Sns,
    /// A Kinesis data stream.
    Kinesis,
    /// A DynamoDB stream.
    DynamoDbStreams,
    /// An S3 event notification.
    S3,
    /// An EventBridge event.
    EventBridge,
    /// An EventBridge scheduled rule or EventBridge Scheduler.
    Schedule,
    /// A CloudWatch Logs subscription filter.
    CloudWatchLogs,
    /// Anything else: a direct invocation, or an event in no known shape.
    Direct,
}

impl EventSource {
    /// The `faas.trigger` value of this source.
    #[must_use]
    pub fn faas_trigger(self) -> &'static str {
        match self {
            Self::ApiGatewayRest | Self::ApiGatewayHttp | Self::FunctionUrl | Self::Alb => "http",
            Self::Sqs | Self::Sns | Self::Kinesis | Self::EventBridge | Self::CloudWatchLogs => {
                "pubsub"
            }
            Self::DynamoDbStreams | Self::S3 => "datasource",
            Self::Schedule => "timer",
            Self::Direct => "other",
        }
    }

    /// A short, stable name (`sqs`, `api-gateway-http`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiGatewayRest => "api-gateway-rest",
            Self::ApiGatewayHttp => "api-gateway-http",
            Self::FunctionUrl => "function-url",
            Self::Alb => "alb",
            Self::Sqs => "sqs",
            Self::Sns => "sns",
            Self::Kinesis => "kinesis",
            Self::DynamoDbStreams => "dynamodb-streams",
            Self::S3 => "s3",
            Self::EventBridge => "eventbridge",
            Self::Schedule => "schedule",
            Self::CloudWatchLogs => "cloudwatch-logs",
            Self::Direct => "direct",
        }
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the event says about the invocation span.
#[derive(Debug)]
pub(crate) struct Inspected<'a> {
    pub source: EventSource,
    pub kind: SpanKind,
    /// `None`: the function name.
    pub name: Option<String>,
    pub attributes: Vec<KeyValue>,
    /// The request's trace context (HTTP sources).
    pub carrier: TraceHeaders<'a>,
    /// Each record's trace context (message batches), for links.
    pub records: Vec<TraceHeaders<'a>>,
}

impl<'a> Inspected<'a> {
    /// A span of `kind` for `source`, named after the function, with no trace context.
    fn new(source: EventSource, kind: SpanKind, attributes: Vec<KeyValue>) -> Self {
        Self {
            source,
            kind,
            name: None,
            attributes,
            carrier: TraceHeaders::default(),
            records: Vec::new(),
        }
    }

    /// A direct invocation, or an event the wrapper was told not to read.
    pub(crate) fn direct() -> Self {
        Self::new(EventSource::Direct, SpanKind::Server, Vec::new())
    }

    /// Names the span `name` instead of after the function.
    fn with_name(mut self, name: String) -> Self {
        self.name = Some(name);
        self
    }

    /// The request's trace context (HTTP sources).
    fn with_carrier(mut self, carrier: TraceHeaders<'a>) -> Self {
        self.carrier = carrier;
        self
    }

    /// Each record's trace context (message batches).
    fn with_records(mut self, records: Vec<TraceHeaders<'a>>) -> Self {
        self.records = records;
        self
    }
}

/// Reads the event. Never fails: anything unrecognised is [`EventSource::Direct`].
/// `redacted_query_keys` are lower-case.
pub(crate) fn inspect<'a>(body: &'a [u8], redacted_query_keys: &[Box<str>]) -> Inspected<'a> {
    // Every event source sends an object: anything else is not read, nor checked for UTF-8.
    let is_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    // One UTF-8 check of the whole body, so the reader does not check each string it reads.
    let Some(text) = is_object.then(|| std::str::from_utf8(body).ok()).flatten() else {
        return Inspected::direct();
    };
    let Ok(mut probe) = probe::read(text) else {
        return Inspected::direct();
    };
    if let Some(records) = probe.records.take()
        && let Some(source) = records::source(&records)
    {
        return records::inspect(source, records);
    }
    if probe.awslogs {
        return events::cloudwatch_logs(probe.awslogs_data);
    }
    if probe.source.is_some() && probe.detail_type.is_some() {
        return events::eventbridge(probe).unwrap_or_else(Inspected::direct);
    }
    http::inspect(probe, redacted_query_keys).unwrap_or_else(Inspected::direct)
}

#[cfg(test)]
mod tests;

/// Not part of the API: the extraction on its own, for the crate's benchmarks and fuzz tests.
/// Returns the source, the span name, the attributes, and the number of trace contexts found
/// (the request's, and one per record).
#[doc(hidden)]
pub fn __inspect(
    event: &[u8],
    redacted_query_keys: &[Box<str>],
) -> (EventSource, Option<String>, Vec<KeyValue>, usize) {
    let inspected = inspect(event, redacted_query_keys);
    let contexts = usize::from(inspected.carrier != TraceHeaders::default())
        + inspected
            .records
            .iter()
            .filter(|r| **r != TraceHeaders::default())
            .count();
    (
        inspected.source,
        inspected.name,
        inspected.attributes,
        contexts,
    )
}
