//! How the platform's telemetry is written as OTLP/JSON: spans, histograms, sums, the
//! resource, attributes, timestamps and ids.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Environment;
use super::metrics::Hist;
use super::spans::XrayContext;

/// OTLP's `SPAN_KIND_INTERNAL`, `SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`, delta temporality.
pub(super) const KIND_INTERNAL: u8 = 1;
pub(super) const KIND_SERVER: u8 = 2;
pub(super) const STATUS_ERROR: u8 = 2;
pub(super) const DELTA: u8 = 1;

pub(super) fn span(
    name: &str,
    kind: u8,
    context: Option<&XrayContext>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    attributes: Vec<Value>,
    status: Option<Value>,
) -> Value {
    let trace_id = context.map_or_else(
        || format!("{:016x}{:016x}", random(), random()),
        |c| c.trace_id.clone(),
    );
    let mut span = json!({
        "traceId": trace_id,
        "spanId": format!("{:016x}", random()),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": nanos(start).to_string(),
        "endTimeUnixNano": nanos(end).to_string(),
        "attributes": attributes,
    });
    if let Some(parent) = context.and_then(|c| c.parent.as_ref()) {
        span["parentSpanId"] = json!(parent);
    }
    if let Some(status) = status {
        span["status"] = status;
    }
    span
}

pub(super) fn histogram(
    name: &str,
    unit: &str,
    description: &str,
    h: &Hist,
    start: &str,
    end: &str,
) -> Value {
    let counts: Vec<String> = h.counts.iter().map(ToString::to_string).collect();
    json!({
        "name": name,
        "unit": unit,
        "description": description,
        "histogram": {
            "aggregationTemporality": DELTA,
            "dataPoints": [{
                "startTimeUnixNano": start,
                "timeUnixNano": end,
                "count": h.count.to_string(),
                "sum": h.sum,
                "min": h.min,
                "max": h.max,
                "bucketCounts": counts,
                "explicitBounds": h.bounds,
            }],
        },
    })
}

/// A monotonic delta sum: one point per attribute set.
pub(super) fn sum(
    name: &str,
    unit: &str,
    description: &str,
    points: &[(Vec<Value>, u64)],
    start: &str,
    end: &str,
) -> Value {
    let points: Vec<Value> = points
        .iter()
        .map(|(attributes, n)| {
            json!({
                "startTimeUnixNano": start,
                "timeUnixNano": end,
                "asInt": n.to_string(),
                "attributes": attributes,
            })
        })
        .collect();
    json!({
        "name": name,
        "unit": unit,
        "description": description,
        "sum": { "aggregationTemporality": DELTA, "isMonotonic": true, "dataPoints": points },
    })
}

pub(super) fn resource(env: &Environment) -> Value {
    let mut attributes = vec![
        attr_str(
            "service.name",
            env.service_name.as_deref().unwrap_or(&env.function_name),
        ),
        attr_str("cloud.provider", "aws"),
        attr_str("cloud.platform", "aws_lambda"),
        attr_str("faas.name", &env.function_name),
    ];
    if let Some(region) = &env.region {
        attributes.push(attr_str("cloud.region", region));
    }
    if let Some(version) = &env.function_version {
        attributes.push(attr_str("faas.version", version));
    }
    if let Some(stream) = &env.log_stream {
        attributes.push(attr_str("faas.instance", stream));
    }
    if let Some(mb) = env.memory_mb {
        attributes.push(attr_int(
            "faas.max_memory",
            i64::try_from(mb * 1024 * 1024).unwrap_or(i64::MAX),
        ));
    }
    json!({ "attributes": attributes })
}

pub(super) fn attr_str(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

pub(super) fn attr_int(key: &str, value: i64) -> Value {
    json!({ "key": key, "value": { "intValue": value.to_string() } })
}

pub(super) fn nanos(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or_default()
}

/// A random 64-bit id, never zero (OTLP's invalid id): std's per-process random hasher keys
/// over a counter and the clock.
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let id = hasher.finish();
        if id != 0 {
            return id;
        }
    }
}
