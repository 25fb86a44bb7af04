//! What the daemon keeps of a datagram: a valid [`Document`] with typed
//! accessors, or the [`Violation`] naming every rule it broke.

use std::fmt;

use serde_json::{Map, Value};

use super::rules::{Problem, Rule, cut};

/// A valid segment document, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Arrival position among all datagrams this daemon received, from 0.
    pub seq: usize,
    /// How many `/next` polls were placed before this datagram.
    pub polls_before: usize,
    /// The document.
    pub json: Value,
}

impl Document {
    fn str_at(&self, pointer: &str) -> Option<&str> {
        self.json.pointer(pointer).and_then(Value::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        self.json.get(key).and_then(Value::as_bool) == Some(true)
    }

    /// `name`.
    pub fn name(&self) -> &str {
        self.str_at("/name").unwrap_or_default()
    }

    /// `id`, 16 hex digits.
    pub fn id(&self) -> &str {
        self.str_at("/id").unwrap_or_default()
    }

    /// `trace_id`, `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`.
    pub fn trace_id(&self) -> &str {
        self.str_at("/trace_id").unwrap_or_default()
    }

    /// The trace id as OpenTelemetry writes it (32 hex digits).
    pub fn otel_trace_id(&self) -> String {
        self.trace_id().trim_start_matches("1-").replace('-', "")
    }

    /// `parent_id`, if any.
    pub fn parent_id(&self) -> Option<&str> {
        self.str_at("/parent_id")
    }

    /// True for a subsegment sent on its own (`"type": "subsegment"`).
    pub fn is_subsegment(&self) -> bool {
        self.str_at("/type") == Some("subsegment")
    }

    /// `start_time`, epoch seconds.
    pub fn start_time(&self) -> f64 {
        self.json["start_time"].as_f64().unwrap_or_default()
    }

    /// `end_time`, unless in progress.
    pub fn end_time(&self) -> Option<f64> {
        self.json.get("end_time").and_then(Value::as_f64)
    }

    /// `namespace` (`aws` or `remote`), subsegments only.
    pub fn namespace(&self) -> Option<&str> {
        self.str_at("/namespace")
    }

    /// `annotations`, if any.
    pub fn annotations(&self) -> Option<&Map<String, Value>> {
        self.json.get("annotations").and_then(Value::as_object)
    }

    /// One annotation.
    pub fn annotation(&self, key: &str) -> Option<&Value> {
        self.annotations().and_then(|a| a.get(key))
    }

    /// `metadata`, if any.
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.json.get("metadata").and_then(Value::as_object)
    }

    /// `http.request.method`.
    pub fn http_method(&self) -> Option<&str> {
        self.str_at("/http/request/method")
    }

    /// `http.request.url`.
    pub fn http_url(&self) -> Option<&str> {
        self.str_at("/http/request/url")
    }

    /// `http.response.status`.
    pub fn http_status(&self) -> Option<u16> {
        let status = self.json.pointer("/http/response/status")?.as_u64()?;
        u16::try_from(status).ok()
    }

    /// `error` (a 4xx).
    pub fn is_error(&self) -> bool {
        self.flag("error")
    }

    /// `fault` (a 5xx).
    pub fn is_fault(&self) -> bool {
        self.flag("fault")
    }

    /// `throttle` (a 429).
    pub fn is_throttle(&self) -> bool {
        self.flag("throttle")
    }

    /// `cause`, if any.
    pub fn cause(&self) -> Option<&Value> {
        self.json.get("cause")
    }

    /// Nested `subsegments`.
    pub fn subsegments(&self) -> &[Value] {
        self.json
            .get("subsegments")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// This document's id and those of all nested subsegments, depth first:
    /// one per span the document carries.
    pub fn span_ids(&self) -> Vec<&str> {
        fn walk<'v>(entity: &'v Value, ids: &mut Vec<&'v str>) {
            ids.extend(entity.get("id").and_then(Value::as_str));
            for nested in entity
                .get("subsegments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(nested, ids);
            }
        }
        let mut ids = Vec::new();
        walk(&self.json, &mut ids);
        ids
    }

    pub(super) fn summary(&self) -> String {
        let kind = if self.is_subsegment() {
            "subsegment"
        } else {
            "segment"
        };
        let nested = self.subsegments().len();
        format!(
            "{kind} {:?} id={} trace={} parent={} (+{nested} nested)",
            self.name(),
            self.id(),
            self.trace_id(),
            self.parent_id().unwrap_or("-"),
        )
    }
}

/// A datagram that broke at least one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Arrival position among all datagrams this daemon received, from 0.
    pub seq: usize,
    /// How many `/next` polls were placed before this datagram.
    pub polls_before: usize,
    /// Every rule it broke.
    pub problems: Vec<Problem>,
    /// The datagram as received.
    pub datagram: Vec<u8>,
}

impl Violation {
    /// The rules broken, in the order found.
    pub fn rules(&self) -> Vec<Rule> {
        self.problems.iter().map(|p| p.rule).collect()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problems: Vec<String> = self.problems.iter().map(Problem::to_string).collect();
        write!(
            f,
            "REJECTED {} bytes: {}; datagram: {}",
            self.datagram.len(),
            problems.join("; "),
            cut(&String::from_utf8_lossy(&self.datagram)),
        )
    }
}
