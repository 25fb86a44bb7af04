//! The one pass over the raw event: every field any trigger family reads, borrowed where the
//! JSON has no escapes. Unknown fields (bodies, `detail`, DynamoDB images, ...) are skipped by
//! serde without being built.

use super::de::{Headers, MessageAttributes, Params, Str};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Probe<'a> {
    // HTTP API (payload 2.0) and Function URL.
    #[serde(borrow, rename = "routeKey")]
    pub route_key: Option<Str<'a>>,
    #[serde(borrow, rename = "rawPath")]
    pub raw_path: Option<Str<'a>>,
    #[serde(borrow, rename = "rawQueryString")]
    pub raw_query: Option<Str<'a>>,
    // REST API (payload 1.0) and ALB.
    #[serde(borrow, rename = "httpMethod")]
    pub http_method: Option<Str<'a>>,
    #[serde(borrow)]
    pub resource: Option<Str<'a>>,
    #[serde(borrow)]
    pub path: Option<Str<'a>>,
    #[serde(borrow, rename = "queryStringParameters")]
    pub query: Option<Params<'a>>,
    #[serde(borrow, rename = "multiValueQueryStringParameters")]
    pub multi_query: Option<Params<'a>>,
    // Every HTTP source.
    #[serde(borrow)]
    pub headers: Option<Headers<'a>>,
    #[serde(borrow, rename = "multiValueHeaders")]
    pub multi_headers: Option<Headers<'a>>,
    #[serde(borrow, rename = "requestContext")]
    pub request_context: Option<RequestContext<'a>>,
    // SQS, SNS, S3, DynamoDB Streams, Kinesis.
    #[serde(borrow, rename = "Records")]
    pub records: Option<Vec<Record<'a>>>,
    // EventBridge.
    #[serde(borrow)]
    pub source: Option<Str<'a>>,
    #[serde(borrow, rename = "detail-type")]
    pub detail_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub id: Option<Str<'a>>,
    #[serde(borrow)]
    pub time: Option<Str<'a>>,
    #[serde(borrow)]
    pub resources: Option<Vec<Str<'a>>>,
    // CloudWatch Logs subscription.
    pub awslogs: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RequestContext<'a> {
    /// Payload 2.0.
    #[serde(borrow)]
    pub http: Option<HttpContext<'a>>,
    /// REST API.
    #[serde(borrow)]
    pub identity: Option<Identity<'a>>,
    #[serde(borrow, rename = "domainName")]
    pub domain_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub protocol: Option<Str<'a>>,
    /// Present only in ALB events.
    pub elb: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HttpContext<'a> {
    #[serde(borrow)]
    pub method: Option<Str<'a>>,
    #[serde(borrow)]
    pub protocol: Option<Str<'a>>,
    #[serde(borrow, rename = "sourceIp")]
    pub source_ip: Option<Str<'a>>,
    #[serde(borrow, rename = "userAgent")]
    pub user_agent: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Identity<'a> {
    #[serde(borrow, rename = "sourceIp")]
    pub source_ip: Option<Str<'a>>,
    #[serde(borrow, rename = "userAgent")]
    pub user_agent: Option<Str<'a>>,
}

/// One record of a batch; which fields are present depends on the source.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Record<'a> {
    /// `aws:sqs`, `aws:s3`, `aws:dynamodb`, `aws:kinesis`.
    #[serde(borrow, rename = "eventSource")]
    pub event_source: Option<Str<'a>>,
    /// `aws:sns` (SNS capitalises its keys).
    #[serde(borrow, rename = "EventSource")]
    pub sns_event_source: Option<Str<'a>>,
    #[serde(borrow, rename = "eventSourceARN")]
    pub event_source_arn: Option<Str<'a>>,
    #[serde(borrow, rename = "awsRegion")]
    pub aws_region: Option<Str<'a>>,
    // SQS.
    #[serde(borrow, rename = "messageId")]
    pub message_id: Option<Str<'a>>,
    #[serde(borrow)]
    pub attributes: Option<SqsAttributes<'a>>,
    #[serde(borrow, rename = "messageAttributes")]
    pub message_attributes: Option<MessageAttributes<'a>>,
    // SNS.
    #[serde(borrow, rename = "Sns")]
    pub sns: Option<SnsMessage<'a>>,
    // S3 and DynamoDB Streams.
    #[serde(borrow, rename = "eventName")]
    pub event_name: Option<Str<'a>>,
    #[serde(borrow, rename = "eventTime")]
    pub event_time: Option<Str<'a>>,
    #[serde(borrow)]
    pub s3: Option<S3Entity<'a>>,
    // Kinesis.
    #[serde(borrow)]
    pub kinesis: Option<KinesisRecord<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SqsAttributes<'a> {
    #[serde(borrow, rename = "AWSTraceHeader")]
    pub aws_trace_header: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SnsMessage<'a> {
    #[serde(borrow, rename = "TopicArn")]
    pub topic_arn: Option<Str<'a>>,
    #[serde(borrow, rename = "MessageId")]
    pub message_id: Option<Str<'a>>,
    #[serde(borrow, rename = "MessageAttributes")]
    pub message_attributes: Option<MessageAttributes<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct S3Entity<'a> {
    #[serde(borrow)]
    pub bucket: Option<S3Bucket<'a>>,
    #[serde(borrow)]
    pub object: Option<S3Object<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct S3Bucket<'a> {
    #[serde(borrow)]
    pub name: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct S3Object<'a> {
    #[serde(borrow)]
    pub key: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct KinesisRecord<'a> {
    #[serde(borrow, rename = "sequenceNumber")]
    pub sequence_number: Option<Str<'a>>,
}
