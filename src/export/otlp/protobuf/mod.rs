//! The bodies of OTLP/HTTP exports (`http/protobuf`, the default protocol), written straight
//! from the SDK's spans ([`traces_request`]) and log records ([`logs_request`]).
//!
//! What opentelemetry-otlp does for the same bodies (`group_spans_by_resource_and_scope` or
//! `group_logs_by_resource_and_scope`, then prost) builds the whole request as
//! opentelemetry-proto's messages first: every attribute key and string copied into a `String`
//! of its own, the resource's attributes copied again for every export, a map keyed by scope
//! (for logs, a scope built per record), then a second walk to measure and a third to encode.
//! On the function's own CPU that was about 12 µs of every flush of the dice roller's two spans
//! (README, Performance). Here the resource is encoded once, when it is set, and each item goes
//! straight into the body: nothing is copied but the bytes that are sent. A body's decoded
//! form is opentelemetry-proto's conversion of the same items, field for field (tests), but
//! where the library would panic: a kind of value newer than this code is sent as its text,
//! a log record without an observed time with 0.
//!
//! Nested messages are written in place: one byte is kept for the length, which is then
//! written there, or the message is moved up when its length takes more bytes (messages of
//! 128 bytes or more: the request's `Resource*` and scope messages, spans, long values; a
//! move of the bytes written so far, a few KB in a flush of a few spans).
//!
//! [`partial_success`] reads a collector's answer for the items it rejected.

#[cfg(feature = "logs")]
mod logs;
mod traces;

#[cfg(feature = "logs")]
pub(crate) use logs::logs_request;
pub(crate) use traces::traces_request;

use opentelemetry::{Array, InstrumentationScope, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use prost::Message as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Protobuf's wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// The resource's part of every request, encoded once: `Resource{Spans,Logs}.resource` and
/// `.schema_url` (the same fields in both), each with its field key.
#[derive(Debug, Default)]
pub(crate) struct EncodedResource {
    resource: Vec<u8>,
    schema_url: Vec<u8>,
}

impl EncodedResource {
    pub(crate) fn new(resource: &Resource) -> Self {
        let mut encoded = Self::default();
        message(&mut encoded.resource, 1, |buf| {
            for (key, value) in resource.iter() {
                key_value(buf, 1, key.as_str(), value);
            }
        });
        string(
            &mut encoded.schema_url,
            3,
            resource.schema_url().unwrap_or_default(),
        );
        encoded
    }
}

/// An `InstrumentationScope` message's fields, named `name` (a log record's target, for logs).
fn instrumentation_scope(buf: &mut Vec<u8>, name: &str, scope: &InstrumentationScope) {
    string(buf, 1, name);
    string(buf, 2, scope.version().unwrap_or_default());
    for kv in scope.attributes() {
        key_value(buf, 3, kv.key.as_str(), &kv.value);
    }
}

/// Nanoseconds since the epoch; 0 before it, as opentelemetry-proto has it (which also wraps
/// past the year 2554, as this does).
fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What a collector's answer says was rejected: its `partial_success`, the count of rejected
/// items and the collector's message. Every signal's `Export*ServiceResponse` has the same two
/// fields under the same tags, so the answer is read as opentelemetry-proto's traces one.
/// `None` for an empty answer (full success, the usual one), one that rejected nothing and
/// said nothing, or one that is not such a message.
pub(crate) fn partial_success(answer: &[u8]) -> Option<(i64, String)> {
    let partial = ExportTraceServiceResponse::decode(answer)
        .ok()?
        .partial_success?;
    (partial.rejected_spans != 0 || !partial.error_message.is_empty())
        .then_some((partial.rejected_spans, partial.error_message))
}

/// A `KeyValue` message in field `tag`: the key, and the value, which is always there.
fn key_value(buf: &mut Vec<u8>, tag: u32, key: &str, value: &Value) {
    key_value_with(buf, tag, key, |buf| any_value(buf, value));
}

/// A `KeyValue` message whose value's fields `value` writes.
fn key_value_with(buf: &mut Vec<u8>, tag: u32, key: &str, value: impl FnOnce(&mut Vec<u8>)) {
    message(buf, tag, |buf| {
        string(buf, 1, key);
        message(buf, 2, value);
    });
}

/// The fields of an `AnyValue`: one of its `oneof`, written even when it is the default (an
/// empty string, `false`, 0), which is what tells it from no value.
fn any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => bytes(buf, 1, s.as_str().as_bytes()),
        Value::Bool(b) => {
            key(buf, 2, VARINT);
            varint(buf, u64::from(*b));
        }
        Value::I64(i) => {
            key(buf, 3, VARINT);
            // Two's complement, as protobuf's int64 is written.
            varint(buf, *i as u64);
        }
        Value::F64(f) => {
            key(buf, 4, FIXED64);
            buf.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Array(array) => message(buf, 5, |buf| array_values(buf, array)),
        // A kind of value newer than this code: its text rather than nothing.
        other => bytes(buf, 1, other.to_string().as_bytes()),
    }
}

/// The `values` of an `ArrayValue`.
fn array_values(buf: &mut Vec<u8>, array: &Array) {
    fn each<T>(buf: &mut Vec<u8>, values: &[T], to_value: impl Fn(&T) -> Value) {
        for v in values {
            message(buf, 1, |buf| any_value(buf, &to_value(v)));
        }
    }
    match array {
        Array::Bool(values) => each(buf, values, |b| Value::Bool(*b)),
        Array::I64(values) => each(buf, values, |i| Value::I64(*i)),
        Array::F64(values) => each(buf, values, |f| Value::F64(*f)),
        Array::String(values) => {
            for s in values {
                message(buf, 1, |buf| bytes(buf, 1, s.as_str().as_bytes()));
            }
        }
        other => message(buf, 1, |buf| bytes(buf, 1, other.to_string().as_bytes())),
    }
}

fn varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

fn key(buf: &mut Vec<u8>, tag: u32, wire_type: u32) {
    varint(buf, u64::from((tag << 3) | wire_type));
}

/// A length-delimited field, written even when empty.
fn bytes(buf: &mut Vec<u8>, tag: u32, value: &[u8]) {
    key(buf, tag, LEN);
    varint(buf, value.len() as u64);
    buf.extend_from_slice(value);
}

/// A string field: left out when empty, proto3's default.
fn string(buf: &mut Vec<u8>, tag: u32, value: &str) {
    if !value.is_empty() {
        bytes(buf, tag, value.as_bytes());
    }
}

/// An unsigned or enum field: left out when 0.
fn uint(buf: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(buf, tag, VARINT);
        varint(buf, value);
    }
}

fn fixed64(buf: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(buf, tag, FIXED64);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

fn fixed32(buf: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        key(buf, tag, FIXED32);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

/// A message in field `tag`, written by `write` (always there, even empty).
fn message(buf: &mut Vec<u8>, tag: u32, write: impl FnOnce(&mut Vec<u8>)) {
    key(buf, tag, LEN);
    let at = buf.len();
    buf.push(0);
    write(buf);
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
        return;
    }
    let mut prefix = [0; 10];
    let mut n = 0;
    let mut rest = len;
    while rest >= 0x80 {
        prefix[n] = (rest as u8) | 0x80;
        rest >>= 7;
        n += 1;
    }
    prefix[n] = rest as u8;
    buf.splice(at..=at, prefix[..=n].iter().copied());
}

#[cfg(test)]
mod tests;
