//! The per-invocation cost of reading the raw event: `lambda_otel::trigger::__inspect`, the
//! wrapper's one pass over the event, on the samples in `events/`.
//!
//! ```sh
//! cargo bench --bench inspect -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_otel::config::env::DEFAULT_REDACTED_QUERY_KEYS;
use lambda_otel::trigger::__inspect;
use serde::de::IgnoredAny;
use std::hint::black_box;

const APIGW_HTTP_V2: &[u8] = include_bytes!("../events/triggers/apigw-http-v2.json");
const APIGW_REST_V1: &[u8] = include_bytes!("../events/triggers/apigw-rest-v1.json");
const SQS_BATCH_10: &[u8] = include_bytes!("../events/triggers/sqs-batch-10.json");
const DIRECT: &[u8] = include_bytes!("../events/triggers/direct.json");
const S3_PUT: &[u8] = include_bytes!("../events/triggers/s3-put.json");
/// A payload that is not JSON (a form-encoded string): rejected at the first byte.
const NOT_JSON: &[u8] = b"orderId=1234&action=refund\n";

/// Headers a browser adds to the HTTP API sample (`fetch` from a single-page app), inserted
/// at the top of its `headers` map.
const BROWSER_HEADERS: &str = r#"    "accept-language": "en-GB,en;q=0.9,de;q=0.8",
    "cache-control": "max-age=0",
    "if-none-match": "W/\"2a-7f3c9e1b\"",
    "origin": "https://app.example.com",
    "pragma": "no-cache",
    "priority": "u=1, i",
    "referer": "https://app.example.com/users/42/settings",
    "sec-ch-ua": "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"",
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": "\"macOS\"",
    "sec-fetch-dest": "empty",
    "sec-fetch-mode": "cors",
    "sec-fetch-site": "same-site",
    "x-correlation-id": "5f0c2a7e-8d41-4c3b-9a6e-2b7d1e9f4c10",
"#;

/// The size of [`apigw_2kb`]'s event, in bytes.
const APIGW_2KB_LEN: usize = 2048;

/// `events/triggers/apigw-http-v2.json` (1471 bytes) with [`BROWSER_HEADERS`]: an HTTP API
/// event of exactly 2048 bytes, 27 headers.
fn apigw_2kb() -> Vec<u8> {
    let sample = std::str::from_utf8(APIGW_HTTP_V2).expect("the sample is UTF-8");
    let marker = "  \"headers\": {\n";
    let padded = sample.replacen(marker, &format!("{marker}{BROWSER_HEADERS}"), 1);
    assert_eq!(
        padded.len(),
        APIGW_2KB_LEN,
        "BROWSER_HEADERS no longer pads to 2 KB"
    );
    padded.into_bytes()
}

/// `event` without the whitespace: Lambda delivers events as compact JSON, and the samples are
/// indented (the 10-record SQS batch is 8714 bytes instead of 10113).
fn compact(event: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(event).expect("the sample is JSON");
    serde_json::to_vec(&value).expect("a value serialises")
}

fn inspect(c: &mut Criterion) {
    let keys: Vec<Box<str>> = DEFAULT_REDACTED_QUERY_KEYS
        .iter()
        .map(|&k| k.into())
        .collect();
    let apigw_2kb = apigw_2kb();
    let sqs_compact = compact(SQS_BATCH_10);
    let cases: [(&str, &[u8]); 8] = [
        ("apigw-http-v2", APIGW_HTTP_V2),
        ("apigw-rest-v1", APIGW_REST_V1),
        ("apigw-2kb", &apigw_2kb),
        ("sqs-10", SQS_BATCH_10),
        ("sqs-10-compact", &sqs_compact),
        ("direct", DIRECT),
        ("s3", S3_PUT),
        ("not-json", NOT_JSON),
    ];
    let mut group = c.benchmark_group("inspect");
    for (name, event) in cases {
        group.bench_function(name, |b| {
            b.iter(|| __inspect(black_box(event), black_box(&keys)));
        });
    }
    group.finish();
}

/// serde_json skipping the same events without reading anything: the floor of any one-pass
/// reader built on it.
fn floor(c: &mut Criterion) {
    let apigw_2kb = apigw_2kb();
    let mut group = c.benchmark_group("skip");
    for (name, event) in [("apigw-2kb", &apigw_2kb[..]), ("sqs-10", SQS_BATCH_10)] {
        group.bench_function(name, |b| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(event)).is_ok());
        });
    }
    group.finish();
}

criterion_group!(benches, inspect, floor);
criterion_main!(benches);
