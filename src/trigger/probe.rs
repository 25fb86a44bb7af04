//! The one pass over the raw event: every field any trigger family reads, borrowed where the
//! JSON has no escapes. Unknown fields (bodies, `detail`, DynamoDB images, ...) are skipped by
//! the reader (`json.rs`) without being built.
//!
//! A field the probe reads that holds a value of another type than it expects (a number for a
//! method, a string for a header map) is read as absent, and the rest of the event still
//! counts; the fields whose presence is all that matters (`awslogs`, `requestContext.elb`)
//! count as present with any value but `null`. A field given twice is read as its last, an
//! entry of a header map or of message attributes as its first (`de.rs`). Text that is not
//! JSON reads as nothing.

use super::de::{Headers, MessageAttributes, Params, Str, string};
use super::json::{Read, Reader};

#[derive(Debug, Default)]
pub(super) struct Probe<'a> {
    // HTTP API (payload 2.0) and Function URL.
    pub route_key: Option<Str<'a>>,
    pub raw_path: Option<Str<'a>>,
    pub raw_query: Option<Str<'a>>,
    // REST API (payload 1.0) and ALB.
    pub http_method: Option<Str<'a>>,
    pub resource: Option<Str<'a>>,
    pub path: Option<Str<'a>>,
    pub query: Option<Params<'a>>,
    pub multi_query: Option<Params<'a>>,
    // Every HTTP source.
    pub headers: Option<Headers<'a>>,
    pub multi_headers: Option<Headers<'a>>,
    pub request_context: Option<RequestContext<'a>>,
    // SQS, SNS, S3, DynamoDB Streams, Kinesis.
    pub records: Option<Vec<Record<'a>>>,
    // EventBridge.
    pub source: Option<Str<'a>>,
    pub detail_type: Option<Str<'a>>,
    pub id: Option<Str<'a>>,
    pub time: Option<Str<'a>>,
    pub resources: Option<Vec<Str<'a>>>,
    // CloudWatch Logs subscription.
    pub awslogs: bool,
    /// `awslogs.data`: the delivery's compressed document.
    pub awslogs_data: Option<Str<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct RequestContext<'a> {
    /// Payload 2.0.
    pub http: Option<HttpContext<'a>>,
    /// REST API.
    pub identity: Option<Identity<'a>>,
    pub domain_name: Option<Str<'a>>,
    pub protocol: Option<Str<'a>>,
    /// Present only in ALB events.
    pub elb: bool,
}

#[derive(Debug, Default)]
pub(super) struct HttpContext<'a> {
    pub method: Option<Str<'a>>,
    pub protocol: Option<Str<'a>>,
    pub source_ip: Option<Str<'a>>,
    pub user_agent: Option<Str<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct Identity<'a> {
    pub source_ip: Option<Str<'a>>,
    pub user_agent: Option<Str<'a>>,
}

/// One record of a batch; which fields are present depends on the source.
#[derive(Debug, Default)]
pub(super) struct Record<'a> {
    /// `aws:sqs`, `aws:s3`, `aws:dynamodb`, `aws:kinesis`.
    pub event_source: Option<Str<'a>>,
    /// `aws:sns` (SNS capitalises its keys).
    pub sns_event_source: Option<Str<'a>>,
    pub event_source_arn: Option<Str<'a>>,
    pub aws_region: Option<Str<'a>>,
    // SQS.
    pub message_id: Option<Str<'a>>,
    pub attributes: Option<SqsAttributes<'a>>,
    pub message_attributes: Option<MessageAttributes<'a>>,
    // SNS.
    pub sns: Option<SnsMessage<'a>>,
    // S3 and DynamoDB Streams.
    pub event_name: Option<Str<'a>>,
    pub event_time: Option<Str<'a>>,
    pub s3: Option<S3Entity<'a>>,
    // Kinesis.
    pub kinesis: Option<KinesisRecord<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct SqsAttributes<'a> {
    pub aws_trace_header: Option<Str<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct SnsMessage<'a> {
    pub topic_arn: Option<Str<'a>>,
    pub message_id: Option<Str<'a>>,
    pub message_attributes: Option<MessageAttributes<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct S3Entity<'a> {
    pub bucket: Option<S3Bucket<'a>>,
    pub object: Option<S3Object<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct S3Bucket<'a> {
    pub name: Option<Str<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct S3Object<'a> {
    pub key: Option<Str<'a>>,
}

#[derive(Debug, Default)]
pub(super) struct KinesisRecord<'a> {
    pub sequence_number: Option<Str<'a>>,
}

/// Reads the event, an object, to its end.
pub(super) fn read(text: &str) -> Read<Probe<'_>> {
    let mut reader = Reader::new(text);
    let mut p = Probe::default();
    reader.object(|r, key| {
        match key.as_ref() {
            "routeKey" => p.route_key = string(r)?,
            "rawPath" => p.raw_path = string(r)?,
            "rawQueryString" => p.raw_query = string(r)?,
            "httpMethod" => p.http_method = string(r)?,
            "resource" => p.resource = string(r)?,
            "path" => p.path = string(r)?,
            "queryStringParameters" => p.query = Params::read(r)?,
            "multiValueQueryStringParameters" => p.multi_query = Params::read(r)?,
            "headers" => p.headers = Headers::read(r)?,
            "multiValueHeaders" => p.multi_headers = Headers::read(r)?,
            "requestContext" => p.request_context = RequestContext::read(r)?,
            "Records" => {
                // An element that is not an object is a record with nothing in it.
                p.records = r.items(|r| Ok(Some(Record::read(r)?.unwrap_or_default())))?;
            }
            "source" => p.source = string(r)?,
            "detail-type" => p.detail_type = string(r)?,
            "id" => p.id = string(r)?,
            "time" => p.time = string(r)?,
            "resources" => p.resources = r.items(string)?,
            "awslogs" if r.peek()? == b'{' => {
                p.awslogs = true;
                p.awslogs_data = r
                    .fields(|data: &mut Option<Str<'_>>, r, key| only(r, &key, "data", data))?
                    .flatten();
            }
            "awslogs" => p.awslogs = r.present()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    reader.end()?;
    Ok(p)
}

impl<'a> RequestContext<'a> {
    fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|c: &mut Self, r, key| {
            match &*key {
                "http" => c.http = HttpContext::read(r)?,
                "identity" => c.identity = Identity::read(r)?,
                "domainName" => c.domain_name = string(r)?,
                "protocol" => c.protocol = string(r)?,
                "elb" => c.elb = r.present()?,
                _ => r.skip()?,
            }
            Ok(())
        })
    }
}

impl<'a> HttpContext<'a> {
    fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|h: &mut Self, r, key| {
            match &*key {
                "method" => h.method = string(r)?,
                "protocol" => h.protocol = string(r)?,
                "sourceIp" => h.source_ip = string(r)?,
                "userAgent" => h.user_agent = string(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })
    }
}

impl<'a> Identity<'a> {
    fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|i: &mut Self, r, key| {
            match &*key {
                "sourceIp" => i.source_ip = string(r)?,
                "userAgent" => i.user_agent = string(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })
    }
}

impl<'a> Record<'a> {
    fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|rec: &mut Self, r, key| {
            match &*key {
                "eventSource" => rec.event_source = string(r)?,
                "EventSource" => rec.sns_event_source = string(r)?,
                "eventSourceARN" => rec.event_source_arn = string(r)?,
                "awsRegion" => rec.aws_region = string(r)?,
                "messageId" => rec.message_id = string(r)?,
                "attributes" => {
                    rec.attributes = r.fields(|a: &mut SqsAttributes<'a>, r, key| {
                        only(r, &key, "AWSTraceHeader", &mut a.aws_trace_header)
                    })?;
                }
                "messageAttributes" => rec.message_attributes = MessageAttributes::read(r)?,
                "Sns" => rec.sns = SnsMessage::read(r)?,
                "eventName" => rec.event_name = string(r)?,
                "eventTime" => rec.event_time = string(r)?,
                "s3" => rec.s3 = S3Entity::read(r)?,
                "kinesis" => {
                    rec.kinesis = r.fields(|k: &mut KinesisRecord<'a>, r, key| {
                        only(r, &key, "sequenceNumber", &mut k.sequence_number)
                    })?;
                }
                _ => r.skip()?,
            }
            Ok(())
        })
    }
}

impl<'a> SnsMessage<'a> {
    fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|s: &mut Self, r, key| {
            match &*key {
                "TopicArn" => s.topic_arn = string(r)?,
                "MessageId" => s.message_id = string(r)?,
                "MessageAttributes" => s.message_attributes = MessageAttributes::read(r)?,
                _ => r.skip()?,
            }
            Ok(())
        })
    }
}

impl<'a> S3Entity<'a> {
    fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|s: &mut Self, r, key| {
            match &*key {
                "bucket" => {
                    s.bucket =
                        r.fields(|b: &mut S3Bucket<'a>, r, key| only(r, &key, "name", &mut b.name))?
                }
                "object" => {
                    s.object =
                        r.fields(|o: &mut S3Object<'a>, r, key| only(r, &key, "key", &mut o.key))?
                }
                _ => r.skip()?,
            }
            Ok(())
        })
    }
}

/// Reads the member `wanted` into `slot`, and skips any other.
fn only<'a>(r: &mut Reader<'a>, key: &str, wanted: &str, slot: &mut Option<Str<'a>>) -> Read<()> {
    if key == wanted {
        *slot = string(r)?;
        Ok(())
    } else {
        r.skip()
    }
}
