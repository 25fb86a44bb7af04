//! `ExportLogsServiceRequest`: one `ResourceLogs`, the records grouped by the scope they are
//! exported under (the record's scope named after its target, when it has one, as
//! opentelemetry-proto names it), scopes in the order they first appear (opentelemetry-proto's
//! order is its map's), each record as it converts it.

use super::{
    EncodedResource, FIXED64, VARINT, bytes, fixed32, fixed64, instrumentation_scope, key,
    key_value_with, message, nanos, string, uint,
};
use opentelemetry::InstrumentationScope;
use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord};

/// The request body for `batch`.
pub(crate) fn logs_request(batch: &LogBatch<'_>, resource: &EncodedResource) -> Vec<u8> {
    let mut buf = Vec::with_capacity(resource.resource.len() + 512);
    message(&mut buf, 1, |buf| {
        buf.extend_from_slice(&resource.resource);
        for (name, scope, records) in by_scope(batch) {
            message(buf, 2, |buf| {
                message(buf, 1, |buf| instrumentation_scope(buf, name, scope));
                for record in records {
                    message(buf, 2, |buf| log_record(buf, record));
                }
                string(buf, 3, scope.schema_url().unwrap_or_default());
            });
        }
        buf.extend_from_slice(&resource.schema_url);
    });
    buf
}

/// A group: the exported scope's name, the scope, and its records.
type Group<'b> = (&'b str, &'b InstrumentationScope, Vec<&'b SdkLogRecord>);

/// The records of each exported scope: a scope is its name (the record's target, or the
/// scope's own) with the scope's version and schema URL (none and empty alike) and its
/// attributes in any order, the key opentelemetry-proto groups them by. A batch has a handful.
fn by_scope<'b>(batch: &'b LogBatch<'_>) -> Vec<Group<'b>> {
    let mut groups: Vec<Group<'b>> = Vec::new();
    for (record, scope) in batch.iter() {
        let name = record
            .target()
            .map_or(scope.name(), |target| target.as_ref());
        let same = |(n, s, _): &&mut Group<'b>| {
            *n == name
                && s.version().unwrap_or_default() == scope.version().unwrap_or_default()
                && s.schema_url().unwrap_or_default() == scope.schema_url().unwrap_or_default()
                && same_attributes(s, scope)
        };
        match groups.iter_mut().find(same) {
            Some((_, _, records)) => records.push(record),
            None => groups.push((name, scope, vec![record])),
        }
    }
    groups
}

/// The same attributes, in any order (as `InstrumentationScope`'s equality has them).
fn same_attributes(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    a.attributes().count() == b.attributes().count()
        && a.attributes()
            .all(|kv| b.attributes().any(|other| other == kv))
}

fn log_record(buf: &mut Vec<u8>, record: &SdkLogRecord) {
    fixed64(buf, 1, record.timestamp().map_or(0, nanos));
    // `SeverityNumber` numbers them as `Severity` does, 1 (TRACE) to 24 (FATAL4).
    uint(buf, 2, record.severity_number().map_or(0, |s| s as u64));
    string(buf, 3, record.severity_text().unwrap_or_default());
    if let Some(body) = record.body() {
        message(buf, 5, |buf| any_value(buf, body));
    }
    for (key, value) in record.attributes_iter() {
        key_value_with(buf, 6, key.as_str(), |buf| any_value(buf, value));
    }
    if let Some(cx) = record.trace_context() {
        fixed32(buf, 8, cx.trace_flags.map_or(0, |f| u32::from(f.to_u8())));
        bytes(buf, 9, &cx.trace_id.to_bytes());
        bytes(buf, 10, &cx.span_id.to_bytes());
    }
    fixed64(buf, 11, record.observed_timestamp().map_or(0, nanos));
    string(buf, 12, record.event_name().unwrap_or_default());
}

/// The fields of an `AnyValue` for a log record's value (the logs API's own kind of value,
/// with bytes and maps): one of its `oneof`, written even when it is the default.
fn any_value(buf: &mut Vec<u8>, value: &AnyValue) {
    match value {
        AnyValue::String(s) => bytes(buf, 1, s.as_str().as_bytes()),
        AnyValue::Boolean(b) => {
            key(buf, 2, VARINT);
            super::varint(buf, u64::from(*b));
        }
        AnyValue::Int(i) => {
            key(buf, 3, VARINT);
            super::varint(buf, *i as u64);
        }
        AnyValue::Double(f) => {
            key(buf, 4, FIXED64);
            buf.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        AnyValue::ListAny(values) => message(buf, 5, |buf| {
            for v in values.iter() {
                message(buf, 1, |buf| any_value(buf, v));
            }
        }),
        AnyValue::Map(map) => message(buf, 6, |buf| {
            for (k, v) in map.iter() {
                key_value_with(buf, 1, k.as_str(), |buf| any_value(buf, v));
            }
        }),
        AnyValue::Bytes(b) => bytes(buf, 7, b),
        // A kind of value newer than this code: its text rather than nothing.
        other => bytes(buf, 1, format!("{other:?}").as_bytes()),
    }
}
