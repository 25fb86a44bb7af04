//! Every sample in `events/triggers/` read exactly as a test of the whole span does in
//! `tests/triggers.rs`, plus the edge cases of the readers.

use super::*;
use opentelemetry::Value;
use std::collections::BTreeMap;

const SENSITIVE: &[&str] = &["sig", "access_token"];

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/events/triggers/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn keys() -> Vec<Box<str>> {
    SENSITIVE.iter().map(|k| (*k).into()).collect()
}

/// The attributes as `key -> value` text (string arrays joined with `,`).
fn attributes(inspected: &Inspected<'_>) -> BTreeMap<String, String> {
    inspected
        .attributes
        .iter()
        .map(|kv| {
            let value = match &kv.value {
                Value::Array(opentelemetry::Array::String(values)) => values
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            (kv.key.to_string(), value)
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn rest_api_v1() {
    let body = sample("apigw-rest-v1.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::ApiGatewayRest, &SpanKind::Server)
    );
    assert_eq!(i.name.as_deref(), Some("GET /users/{id}"));
    assert_eq!(
        attributes(&i),
        expect(&[
            ("http.request.method", "GET"),
            ("http.route", "/users/{id}"),
            ("url.path", "/users/42"),
            ("url.query", "verbose=true&access_token=REDACTED"),
            ("url.scheme", "https"),
            (
                "server.address",
                "abc123.execute-api.us-east-1.amazonaws.com"
            ),
            ("client.address", "203.0.113.7"),
            ("user_agent.original", "Mozilla/5.0 (example)"),
            ("network.protocol.version", "1.1"),
        ])
    );
    assert_eq!(
        i.carrier.traceparent.as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    assert_eq!(i.carrier.tracestate.as_deref(), Some("vendor=opaque"));
    assert_eq!(i.carrier.baggage.as_deref(), Some("tenant=acme,region=eu"));
    assert_eq!(
        i.carrier.xray.as_deref(),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    );
    assert!(i.records.is_empty());
}

#[test]
fn http_api_v2() {
    let body = sample("apigw-http-v2.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::ApiGatewayHttp, &SpanKind::Server)
    );
    assert_eq!(i.name.as_deref(), Some("GET /users/{id}"));
    assert_eq!(
        attributes(&i),
        expect(&[
            ("http.request.method", "GET"),
            ("http.route", "/users/{id}"),
            ("url.path", "/users/42"),
            ("url.query", "verbose=true&sig=REDACTED"),
            ("url.scheme", "https"),
            (
                "server.address",
                "r3pmxmplak.execute-api.us-east-1.amazonaws.com"
            ),
            ("client.address", "198.51.100.9"),
            ("user_agent.original", "okhttp/4.12.0"),
            ("network.protocol.version", "1.1"),
        ])
    );
    assert_eq!(
        i.carrier.traceparent.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
}

#[test]
fn function_url_has_no_route() {
    let body = sample("function-url.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::FunctionUrl, &SpanKind::Server)
    );
    assert_eq!(i.name.as_deref(), Some("POST"));
    let attrs = attributes(&i);
    assert_eq!(attrs.get("http.route"), None);
    assert_eq!(attrs["url.path"], "/orders");
    assert_eq!(attrs["url.query"], "dryRun=1");
    assert_eq!(
        attrs["server.address"],
        "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
    );
}

#[test]
fn alb() {
    let body = sample("alb.json");
    let i = inspect(&body, &keys());
    assert_eq!((i.source, &i.kind), (EventSource::Alb, &SpanKind::Server));
    assert_eq!(i.name.as_deref(), Some("GET"));
    assert_eq!(
        attributes(&i),
        expect(&[
            ("http.request.method", "GET"),
            ("url.path", "/health"),
            ("url.query", "probe=1"),
            ("url.scheme", "http"),
            ("server.address", "lb-123.us-east-1.elb.amazonaws.com"),
            ("server.port", "80"),
            ("client.address", "192.0.2.44"),
            ("user_agent.original", "Go-http-client/1.1"),
        ])
    );
}

#[test]
fn secrets_are_never_read() {
    for name in [
        "apigw-rest-v1.json",
        "apigw-http-v2.json",
        "function-url.json",
    ] {
        let body = sample(name);
        let i = inspect(&body, &keys());
        let all = format!("{:?} {:?} {:?}", i.attributes, i.name, i.carrier);
        for secret in ["SECRET", "s3cr3t", "Bearer", "session="] {
            assert!(!all.contains(secret), "{name}: {secret} in {all}");
        }
    }
}

#[test]
fn sqs_batch() {
    let body = sample("sqs.json");
    let i = inspect(&body, &keys());
    assert_eq!((i.source, &i.kind), (EventSource::Sqs, &SpanKind::Consumer));
    assert_eq!(i.name.as_deref(), Some("orders-queue process"));
    assert_eq!(
        attributes(&i),
        expect(&[
            ("messaging.system", "aws_sqs"),
            ("messaging.operation.type", "process"),
            ("messaging.destination.name", "orders-queue"),
            ("messaging.batch.message_count", "3"),
            (
                "aws.sqs.queue.url",
                "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue"
            ),
        ])
    );
    assert_eq!(
        i.carrier,
        TraceHeaders::default(),
        "a batch has no carrier of its own"
    );
    assert_eq!(i.records.len(), 3);
    assert_eq!(
        i.records[0].xray.as_deref(),
        Some("Root=1-6b017019-f7f3b2c9780175e3ff9918f2;Parent=191616116c765599;Sampled=1")
    );
    assert_eq!(
        i.records[1].traceparent.as_deref(),
        Some("00-8523f8a6e768d3705797a86cb1047db8-c2b7a8912de18ead-01")
    );
    assert_eq!(i.records[2], TraceHeaders::default());
}

#[test]
fn sns_single_message() {
    let body = sample("sns.json");
    let i = inspect(&body, &keys());
    assert_eq!((i.source, &i.kind), (EventSource::Sns, &SpanKind::Consumer));
    assert_eq!(i.name.as_deref(), Some("order-events process"));
    assert_eq!(
        attributes(&i),
        expect(&[
            ("messaging.system", "aws.sns"),
            ("messaging.operation.type", "process"),
            ("messaging.destination.name", "order-events"),
            (
                "messaging.message.id",
                "a6b4d7c6-57fb-4bbe-ae7a-3c15c0634905"
            ),
            (
                "aws.sns.topic.arn",
                "arn:aws:sns:us-east-1:123456789012:order-events"
            ),
        ])
    );
    assert_eq!(
        i.records[0].traceparent.as_deref(),
        Some("00-38672eaa0c626a9a57ea4638b805787e-abf6c9177a91c19b-01")
    );
}

#[test]
fn kinesis_and_dynamodb_streams() {
    let body = sample("kinesis.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::Kinesis, &SpanKind::Consumer)
    );
    assert_eq!(i.name.as_deref(), Some("clickstream process"));
    assert_eq!(
        attributes(&i),
        expect(&[
            ("messaging.system", "aws.kinesis"),
            ("messaging.operation.type", "process"),
            ("messaging.destination.name", "clickstream"),
            ("messaging.batch.message_count", "2"),
            ("aws.kinesis.stream_name", "clickstream"),
        ])
    );

    let body = sample("dynamodb.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::DynamoDbStreams, &SpanKind::Consumer)
    );
    assert_eq!(i.source.faas_trigger(), "datasource");
    assert_eq!(i.name.as_deref(), Some("orders process"));
    assert_eq!(
        attributes(&i),
        expect(&[
            ("messaging.system", "aws.dynamodb_streams"),
            ("messaging.operation.type", "process"),
            ("messaging.destination.name", "orders"),
            ("messaging.batch.message_count", "2"),
            ("aws.dynamodb.table_names", "orders"),
            ("faas.document.collection", "orders"),
        ]),
        "INSERT and MODIFY in one batch: no single operation"
    );
}

#[test]
fn s3_put() {
    let body = sample("s3-put.json");
    let i = inspect(&body, &keys());
    assert_eq!((i.source, &i.kind), (EventSource::S3, &SpanKind::Server));
    assert_eq!(i.name, None);
    assert_eq!(
        attributes(&i),
        expect(&[
            ("faas.document.collection", "photo-uploads"),
            ("aws.s3.bucket", "photo-uploads"),
            ("faas.document.name", "photos/2026/cat picture(1).jpg"),
            ("aws.s3.key", "photos/2026/cat picture(1).jpg"),
            ("faas.document.time", "2026-11-21T10:23:41.602Z"),
            ("faas.document.operation", "insert"),
        ])
    );
}

#[test]
fn eventbridge_and_schedule() {
    let body = sample("eventbridge.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::EventBridge, &SpanKind::Consumer)
    );
    assert_eq!(
        attributes(&i),
        expect(&[
            ("lambda_otel.eventbridge.source", "com.example.orders"),
            ("lambda_otel.eventbridge.detail_type", "OrderPlaced"),
            (
                "lambda_otel.eventbridge.event_id",
                "15bf9472-0733-48ba-b556-9b383c70ebe6"
            ),
        ])
    );

    let body = sample("schedule.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::Schedule, &SpanKind::Server)
    );
    assert_eq!(i.source.faas_trigger(), "timer");
    assert_eq!(
        attributes(&i),
        expect(&[
            ("lambda_otel.eventbridge.source", "aws.events"),
            ("lambda_otel.eventbridge.detail_type", "Scheduled Event"),
            (
                "lambda_otel.eventbridge.event_id",
                "3a700dca-438f-40d0-b563-977d01dc8f12"
            ),
            (
                "lambda_otel.eventbridge.resources",
                "arn:aws:events:us-east-1:123456789012:rule/nightly-report"
            ),
            ("faas.time", "2026-11-21T02:00:00Z"),
        ])
    );
}

#[test]
fn cloudwatch_logs() {
    let body = sample("cloudwatch-logs.json");
    let i = inspect(&body, &keys());
    assert_eq!(
        (i.source, &i.kind),
        (EventSource::CloudWatchLogs, &SpanKind::Consumer)
    );
    let expected = if cfg!(feature = "cloudwatch-logs") {
        expect(&[
            ("aws.log.group.names", "/aws/lambda/checkout"),
            (
                "aws.log.stream.names",
                "2026/11/21/[$LATEST]3f2a9c1e5b7d4e8fa0c6b2d1e9f8a7c6",
            ),
        ])
    } else {
        BTreeMap::new()
    };
    assert_eq!(attributes(&i), expected);
    // Corrupt data still gives the trigger.
    let i = inspect(br#"{"awslogs":{"data":"not base64!"}}"#, &keys());
    assert_eq!(i.source, EventSource::CloudWatchLogs);
}

#[test]
fn direct_and_unknown_shapes() {
    let body = sample("direct.json");
    assert_eq!(inspect(&body, &keys()).source, EventSource::Direct);
    for body in [
        &b""[..],
        b"not json",
        b"null",
        b"[1,2]",
        b"{\"a\":",
        br#"{"httpMethod":5}"#,
        br#"{"Records":[]}"#,
        br#"{"Records":[{"eventSource":"aws:unknown"}]}"#,
        br#"{"Records":"x"}"#,
        br#"{"source":"x"}"#,
        "\u{feff}{}".as_bytes(),
    ] {
        let i = inspect(body, &keys());
        assert_eq!(
            i.source,
            EventSource::Direct,
            "{}",
            String::from_utf8_lossy(body)
        );
        assert!(i.attributes.is_empty());
    }
}

#[test]
fn header_names_match_in_any_case_and_multi_value_headers_count() {
    let body = br#"{"httpMethod":"GET","path":"/","requestContext":{},
        "headers":{"TRACEPARENT":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","Authorization":"x"},
        "multiValueHeaders":{"User-Agent":["ua-1","ua-2"],"BaGgAgE":["k=v"]}}"#;
    let i = inspect(body, &keys());
    assert_eq!(i.source, EventSource::ApiGatewayRest);
    assert!(i.carrier.traceparent.is_some());
    assert_eq!(i.carrier.baggage.as_deref(), Some("k=v"));
    assert_eq!(attributes(&i)["user_agent.original"], "ua-1");
}

#[test]
fn odd_values_are_skipped_not_fatal() {
    // null and non-string header values, numbers in query maps.
    let body = br#"{"version":"2.0","routeKey":"$default","rawPath":"/x",
        "headers":{"user-agent":null,"traceparent":5,"x":{"y":[1]}},
        "requestContext":{"http":{"method":"BREW"}}}"#;
    let i = inspect(body, &keys());
    assert_eq!(i.source, EventSource::ApiGatewayHttp);
    assert_eq!(i.name.as_deref(), Some("HTTP"));
    let attrs = attributes(&i);
    assert_eq!(attrs["http.request.method"], "_OTHER");
    assert_eq!(attrs["http.request.method_original"], "BREW");
    assert_eq!(i.carrier, TraceHeaders::default());
}

#[test]
fn escaped_strings_are_read_and_long_ones_bounded() {
    let long = "a".repeat(5000);
    let body =
        format!(r#"{{"httpMethod":"GET","path":"/caf\u00e9/{long}","requestContext":{{}}}}"#);
    let i = inspect(body.as_bytes(), &keys());
    let path = &attributes(&i)["url.path"];
    assert!(path.starts_with("/café/aaa"));
    assert_eq!(path.len(), MAX_VALUE_LEN);
}

#[test]
fn sqs_batch_of_ten_links_every_record() {
    let body = sample("sqs-batch-10.json");
    let i = inspect(&body, &keys());
    assert_eq!(i.source, EventSource::Sqs);
    assert_eq!(attributes(&i)["messaging.batch.message_count"], "10");
    assert_eq!(i.records.len(), 10);
    assert!(i.records.iter().all(|r| r.xray.is_some()));
    assert_eq!(
        i.records[9].xray.as_deref(),
        Some("Root=1-6b017059-f6d46906e66f9d8bb55817e7;Parent=8a6ec015bac4e778;Sampled=1")
    );
}

#[test]
fn encoded_query_keys_and_the_default_list_are_redacted() {
    let defaults: Vec<Box<str>> = crate::config::env::DEFAULT_REDACTED_QUERY_KEYS
        .iter()
        .map(|&k| k.into())
        .collect();
    let query = "%73ig=s3cr3t&Session=s3cr3t&jwt=s3cr3t&auth=s3cr3t&Authorization=s3cr3t&page=2";
    let http_api = format!(
        r#"{{"version":"2.0","routeKey":"GET /a","rawPath":"/a","rawQueryString":"{query}",
            "requestContext":{{"http":{{"method":"GET"}}}}}}"#
    );
    let i = inspect(http_api.as_bytes(), &defaults);
    assert_eq!(
        attributes(&i)["url.query"],
        "%73ig=REDACTED&Session=REDACTED&jwt=REDACTED&auth=REDACTED&Authorization=REDACTED&page=2"
    );
    // ALB hands the parameters over as the client encoded them.
    let alb = br#"{"httpMethod":"GET","path":"/a","requestContext":{"elb":{"targetGroupArn":"t"}},
        "queryStringParameters":{"si%67":"s3cr3t","access%5Ftoken":"s3cr3t","page":"2"}}"#;
    let i = inspect(alb, &defaults);
    assert_eq!(i.source, EventSource::Alb);
    assert_eq!(
        attributes(&i)["url.query"],
        "si%67=REDACTED&access%5Ftoken=REDACTED&page=2"
    );
}
