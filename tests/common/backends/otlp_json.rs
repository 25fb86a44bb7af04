//! The collector file exporter's lines (OTLP/JSON, one export request per line) flattened into
//! what tests assert on. Attribute values become plain JSON: strings, numbers (OTLP/JSON writes
//! 64-bit integers as strings; they are numbers here), booleans, arrays.

use serde_json::{Map, Value};

/// One span of a `resourceSpans` line.
#[derive(Debug, Clone)]
pub struct Span {
    pub name: String,
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits.
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// OTLP's `SpanKind` number (1 internal, 2 server, ...).
    pub kind: i64,
    /// OTLP's status code (0 unset, 1 ok, 2 error).
    pub status_code: i64,
    pub attributes: Map<String, Value>,
    /// Each event's name and attributes.
    pub events: Vec<(String, Map<String, Value>)>,
    pub resource: Map<String, Value>,
}

/// One log record of a `resourceLogs` line.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub body: Value,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Map<String, Value>,
    pub resource: Map<String, Value>,
}

/// Every span in `lines`, in order.
pub fn spans(lines: &[Value]) -> Vec<Span> {
    items(lines, "resourceSpans", "scopeSpans", "spans")
        .map(|(resource, span)| Span {
            name: string(span, "name"),
            trace_id: string(span, "traceId"),
            span_id: string(span, "spanId"),
            parent_span_id: string(span, "parentSpanId"),
            kind: span["kind"].as_i64().unwrap_or(0),
            status_code: span["status"]["code"].as_i64().unwrap_or(0),
            attributes: attributes(&span["attributes"]),
            events: list(&span["events"])
                .map(|e| (string(e, "name"), attributes(&e["attributes"])))
                .collect(),
            resource,
        })
        .collect()
}

/// Every log record in `lines`, in order.
pub fn log_records(lines: &[Value]) -> Vec<LogRecord> {
    items(lines, "resourceLogs", "scopeLogs", "logRecords")
        .map(|(resource, record)| LogRecord {
            body: any_value(&record["body"]),
            trace_id: string(record, "traceId"),
            span_id: string(record, "spanId"),
            attributes: attributes(&record["attributes"]),
            resource,
        })
        .collect()
}

/// Every metric in `lines`, in order: the metric's OTLP/JSON object, with its resource.
pub fn metrics(lines: &[Value]) -> Vec<(Map<String, Value>, Value)> {
    items(lines, "resourceMetrics", "scopeMetrics", "metrics")
        .map(|(resource, metric)| (resource, metric.clone()))
        .collect()
}

/// The items (`leaf`) of every scope (`scopes`) of every resource (`resources`) of `lines`,
/// each with its resource's attributes.
fn items<'a>(
    lines: &'a [Value],
    resources: &'a str,
    scopes: &'a str,
    leaf: &'a str,
) -> impl Iterator<Item = (Map<String, Value>, &'a Value)> + 'a {
    lines
        .iter()
        .flat_map(move |line| list(&line[resources]))
        .flat_map(move |resource| {
            let attrs = attributes(&resource["resource"]["attributes"]);
            list(&resource[scopes])
                .flat_map(move |scope| list(&scope[leaf]))
                .map(move |item| (attrs.clone(), item))
        })
}

fn list(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn string(object: &Value, key: &str) -> String {
    object[key].as_str().unwrap_or_default().to_owned()
}

/// `[{"key": k, "value": AnyValue}, ...]` as a map of plain values.
pub fn attributes(pairs: &Value) -> Map<String, Value> {
    list(pairs)
        .map(|kv| (string(kv, "key"), any_value(&kv["value"])))
        .collect()
}

/// An OTLP/JSON `AnyValue` as plain JSON.
fn any_value(value: &Value) -> Value {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return Value::Null;
    };
    match kind.as_str() {
        "intValue" => inner
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .map_or_else(|| inner.clone(), Value::from),
        "arrayValue" => Value::Array(list(&inner["values"]).map(any_value).collect()),
        "kvlistValue" => Value::Object(attributes(&inner["values"])),
        _ => inner.clone(),
    }
}
