//! Batches of records: SQS, SNS, Kinesis and DynamoDB Streams (messaging conventions, one link
//! per record that carries its producer's context) and S3 notifications (document conventions).

use super::bound::{bounded, push_str};
use super::de::Str;
use super::probe::Record;
use super::{EventSource, Inspected};
use crate::attributes::{MESSAGING_SYSTEM_DYNAMODB_STREAMS, MESSAGING_SYSTEM_KINESIS};
use crate::propagation::TraceHeaders;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::{
    AWS_DYNAMODB_TABLE_NAMES, AWS_KINESIS_STREAM_NAME, AWS_S3_BUCKET, AWS_S3_KEY,
    AWS_SNS_TOPIC_ARN, AWS_SQS_QUEUE_URL, FAAS_DOCUMENT_COLLECTION, FAAS_DOCUMENT_NAME,
    FAAS_DOCUMENT_OPERATION, FAAS_DOCUMENT_TIME, MESSAGING_BATCH_MESSAGE_COUNT,
    MESSAGING_DESTINATION_NAME, MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};
use std::borrow::Cow;

/// The source of a batch, from its first record.
pub(super) fn source(records: &[Record<'_>]) -> Option<EventSource> {
    let first = records.first()?;
    let name = first
        .event_source
        .as_ref()
        .or(first.sns_event_source.as_ref())?;
    Some(match name.0.as_ref() {
        "aws:sqs" => EventSource::Sqs,
        "aws:sns" => EventSource::Sns,
        "aws:kinesis" => EventSource::Kinesis,
        "aws:dynamodb" => EventSource::DynamoDbStreams,
        "aws:s3" => EventSource::S3,
        _ => return None,
    })
}

/// Reads a batch whose [`source`] is known. S3 has a function of its own; the four messaging
/// sources share the span's shape (`<destination> process`, CONSUMER, the messaging attributes,
/// one link per record) and each adds its own attributes and names its [`Origin`].
pub(super) fn inspect<'a>(source: EventSource, records: Vec<Record<'a>>) -> Inspected<'a> {
    let mut attributes = Vec::with_capacity(8);
    let (system, destination) = match source {
        EventSource::S3 => return s3(records),
        EventSource::Sqs => sqs(&records[0], &mut attributes),
        EventSource::Sns => sns(&records[0], &mut attributes),
        EventSource::Kinesis => kinesis(&records[0], &mut attributes),
        _ => dynamodb(&records, &mut attributes),
    };
    attributes.push(KeyValue::new(MESSAGING_SYSTEM, system));
    attributes.push(KeyValue::new(MESSAGING_OPERATION_TYPE, "process"));
    push_str(
        &mut attributes,
        MESSAGING_DESTINATION_NAME,
        destination.map(Cow::Borrowed),
    );
    // The conventions keep the batch size for batches and the message id for single messages.
    if let [single] = records.as_slice() {
        push_str(&mut attributes, MESSAGING_MESSAGE_ID, message_id(single));
    } else {
        attributes.push(KeyValue::new(
            MESSAGING_BATCH_MESSAGE_COUNT,
            i64::try_from(records.len()).unwrap_or(i64::MAX),
        ));
    }
    let name = match destination {
        Some(destination) => bounded(&format!("{destination} process")),
        None => "process".to_owned(),
    };
    let links = records.into_iter().map(trace_headers).collect();
    Inspected::new(source, SpanKind::Consumer, attributes)
        .with_name(name)
        .with_records(links)
}

/// Where the messages of a batch came from: `messaging.system` and the destination's name.
type Origin<'r> = (&'static str, Option<&'r str>);

/// The ARN of the batch's source (SNS records have none).
fn source_arn<'r>(first: &'r Record<'_>) -> Option<&'r str> {
    first.event_source_arn.as_ref().map(|a| a.0.as_ref())
}

/// SQS: the queue, and its URL, from the ARN.
fn sqs<'r>(first: &'r Record<'_>, attributes: &mut Vec<KeyValue>) -> Origin<'r> {
    let arn = source_arn(first);
    if let Some(url) = arn.and_then(sqs_queue_url) {
        attributes.push(KeyValue::new(AWS_SQS_QUEUE_URL, bounded(&url)));
    }
    ("aws_sqs", arn.and_then(|arn| arn_field(arn, 5)))
}

/// SNS: the topic, from the message's `TopicArn`.
fn sns<'r>(first: &'r Record<'_>, attributes: &mut Vec<KeyValue>) -> Origin<'r> {
    let topic_arn = first.sns.as_ref().and_then(|s| s.topic_arn.as_ref());
    push_str(
        attributes,
        AWS_SNS_TOPIC_ARN,
        topic_arn.map(|a| a.0.clone()),
    );
    ("aws.sns", topic_arn.and_then(|arn| arn_field(&arn.0, 5)))
}

/// Kinesis: the stream, from the ARN.
fn kinesis<'r>(first: &'r Record<'_>, attributes: &mut Vec<KeyValue>) -> Origin<'r> {
    let stream = source_arn(first).and_then(|arn| resource_name(arn, "stream/"));
    push_str(
        attributes,
        AWS_KINESIS_STREAM_NAME,
        stream.map(Cow::Borrowed),
    );
    (MESSAGING_SYSTEM_KINESIS, stream)
}

/// DynamoDB Streams: the table, from the ARN, which is also the document collection; the
/// operation when every record agrees on it.
fn dynamodb<'r>(records: &'r [Record<'_>], attributes: &mut Vec<KeyValue>) -> Origin<'r> {
    let table = source_arn(&records[0]).and_then(|arn| resource_name(arn, "table/"));
    if let Some(table) = table {
        let names = vec![opentelemetry::StringValue::from(bounded(table))];
        attributes.push(KeyValue::new(
            AWS_DYNAMODB_TABLE_NAMES,
            opentelemetry::Value::Array(names.into()),
        ));
        attributes.push(KeyValue::new(FAAS_DOCUMENT_COLLECTION, bounded(table)));
    }
    if let Some(operation) = same_for_all(records, |r| {
        dynamodb_operation(r.event_name.as_ref()?.0.as_ref())
    }) {
        attributes.push(KeyValue::new(FAAS_DOCUMENT_OPERATION, operation));
    }
    (MESSAGING_SYSTEM_DYNAMODB_STREAMS, table)
}

/// An S3 notification: the object is the document; the bucket the collection.
fn s3(records: Vec<Record<'_>>) -> Inspected<'_> {
    let mut attributes = Vec::with_capacity(6);
    let first = &records[0];
    let entity = first.s3.as_ref();
    let bucket = entity.and_then(|e| e.bucket.as_ref()?.name.as_ref());
    let key = entity.and_then(|e| e.object.as_ref()?.key.as_ref());
    push_str(
        &mut attributes,
        FAAS_DOCUMENT_COLLECTION,
        bucket.map(|b| b.0.clone()),
    );
    push_str(&mut attributes, AWS_S3_BUCKET, bucket.map(|b| b.0.clone()));
    if records.len() == 1 {
        let key = key.map(|k| Cow::Owned(decode_s3_key(&k.0)));
        push_str(&mut attributes, FAAS_DOCUMENT_NAME, key.clone());
        push_str(&mut attributes, AWS_S3_KEY, key);
        push_str(
            &mut attributes,
            FAAS_DOCUMENT_TIME,
            first.event_time.as_ref().map(|t| t.0.clone()),
        );
    }
    if let Some(operation) = same_for_all(&records, |r| {
        s3_operation(r.event_name.as_ref()?.0.as_ref())
    }) {
        attributes.push(KeyValue::new(FAAS_DOCUMENT_OPERATION, operation));
    }
    Inspected::new(EventSource::S3, SpanKind::Server, attributes)
}

/// S3 notifications form-encode object keys (`cat+picture%281%29.jpg`); the attribute holds
/// the key itself (`cat picture(1).jpg`). Invalid escapes are kept as they are.
fn decode_s3_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'%' => bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok()),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The trace context a message carries: SQS's `AWSTraceHeader` system attribute, and W3C
/// fields in SQS or SNS message attributes.
fn trace_headers(record: Record<'_>) -> TraceHeaders<'_> {
    let attributes = record
        .message_attributes
        .or_else(|| record.sns.and_then(|sns| sns.message_attributes));
    let mut trace = attributes.map(|a| a.0).unwrap_or_default();
    trace.xray = record
        .attributes
        .and_then(|a| a.aws_trace_header)
        .map(|h| h.0);
    trace
}

fn message_id<'a>(record: &Record<'a>) -> Option<Cow<'a, str>> {
    let id: Option<&Str<'a>> = record
        .message_id
        .as_ref()
        .or_else(|| record.sns.as_ref()?.message_id.as_ref())
        .or_else(|| record.kinesis.as_ref()?.sequence_number.as_ref());
    id.map(|id| id.0.clone())
}

/// `f` of every record when they all agree.
fn same_for_all<T: PartialEq>(
    records: &[Record<'_>],
    f: impl Fn(&Record<'_>) -> Option<T>,
) -> Option<T> {
    let mut values = records.iter().map(f);
    let first = values.next()??;
    values.all(|v| v.as_ref() == Some(&first)).then_some(first)
}

fn dynamodb_operation(event_name: &str) -> Option<&'static str> {
    Some(match event_name {
        "INSERT" => "insert",
        "MODIFY" => "edit",
        "REMOVE" => "delete",
        _ => return None,
    })
}

fn s3_operation(event_name: &str) -> Option<&'static str> {
    let kind = event_name.split(':').next()?;
    Some(match kind {
        "ObjectCreated" | "ObjectRestore" => "insert",
        "ObjectRemoved" | "LifecycleExpiration" => "delete",
        "ObjectTagging" | "ObjectAcl" | "LifecycleTransition" => "edit",
        _ => return None,
    })
}

/// The `n`th (0-based) `:`-separated field of an ARN; the last field keeps any further `:`.
fn arn_field(arn: &str, n: usize) -> Option<&str> {
    arn.splitn(n + 1, ':').nth(n).filter(|f| !f.is_empty())
}

/// `arn:aws:kinesis:r:a:stream/clickstream` → `clickstream`;
/// `arn:aws:dynamodb:r:a:table/orders/stream/2026-...` → `orders`.
fn resource_name<'a>(arn: &'a str, prefix: &str) -> Option<&'a str> {
    let resource = arn_field(arn, 5)?.strip_prefix(prefix)?;
    resource.split('/').next().filter(|n| !n.is_empty())
}

/// `arn:aws:sqs:us-east-1:123456789012:orders` → `https://sqs.us-east-1.amazonaws.com/123456789012/orders`.
fn sqs_queue_url(arn: &str) -> Option<String> {
    let mut fields = arn.splitn(6, ':');
    let partition = fields.nth(1)?;
    let region = fields.nth(1)?;
    let account = fields.next()?;
    let queue = fields.next()?;
    if region.is_empty() || account.is_empty() || queue.is_empty() {
        return None;
    }
    let domain = match partition {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    };
    Some(format!("https://sqs.{region}.{domain}/{account}/{queue}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_arns() {
        let sqs = "arn:aws:sqs:us-east-1:123456789012:orders-queue";
        assert_eq!(arn_field(sqs, 5), Some("orders-queue"));
        assert_eq!(
            sqs_queue_url(sqs).as_deref(),
            Some("https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue")
        );
        assert_eq!(
            resource_name("arn:aws:kinesis:us-east-1:1:stream/clickstream", "stream/"),
            Some("clickstream")
        );
        assert_eq!(
            resource_name(
                "arn:aws:dynamodb:us-east-1:1:table/orders/stream/2026-11-01T00:00:00.000",
                "table/"
            ),
            Some("orders")
        );
        assert_eq!(
            resource_name("arn:aws:kinesis:r:a:table/x", "stream/"),
            None
        );
        assert_eq!(sqs_queue_url("not-an-arn"), None);
        assert_eq!(arn_field("arn:aws", 5), None);
    }

    #[test]
    fn s3_keys_are_form_decoded() {
        assert_eq!(
            decode_s3_key("photos/cat+picture%281%29.jpg"),
            "photos/cat picture(1).jpg"
        );
        assert_eq!(decode_s3_key("100%25+sure%2"), "100% sure%2");
        assert_eq!(decode_s3_key("%zz%e2%82%ac"), "%zz€");
    }

    #[test]
    fn document_operations() {
        assert_eq!(s3_operation("ObjectCreated:Put"), Some("insert"));
        assert_eq!(s3_operation("ObjectRemoved:Delete"), Some("delete"));
        assert_eq!(s3_operation("Something"), None);
        assert_eq!(dynamodb_operation("MODIFY"), Some("edit"));
    }
}
