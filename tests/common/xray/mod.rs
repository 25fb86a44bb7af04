//! A loopback stand-in for the X-Ray daemon: a UDP receiver that checks every
//! datagram as strictly as the daemon and the X-Ray service would, keeps the
//! valid segment documents and the violations, and places the runtime's `/next`
//! polls among the datagrams it received.
//!
//! # Why the polls come to the datagrams, not the datagrams to the timeline
//!
//! UDP has no answer: a correct exporter's `send` returns once the datagram is
//! queued on this socket, and the runtime may poll `/next` before this thread
//! has read it. Recording datagrams on the [`Timeline`] as they are read would
//! make "sent before `/next`" fail at random for a correct exporter. Instead a
//! watcher thread sends a marker datagram to the daemon's own socket the moment
//! it sees a `/next` poll on the timeline (still holding the timeline's lock).
//! The socket queues datagrams in order, so everything read before marker #n
//! was queued before it, and a correct exporter's documents, sent before the
//! runtime polled, always are: [`XrayDaemon::documents_before_next_poll`]. A
//! late document counts as on time only if it lands in the instant between the
//! poll and the watcher's wake-up. Start the daemon before the runtime, so the
//! watcher is waiting before the first poll.
//!
//! # What is checked
//!
//! The daemon's framing (the exact header line, one JSON document, at most
//! [`MAX_DATAGRAM`] bytes) and the segment-document rules of X-Ray's
//! documentation and JSON schema (`xray-segmentdocument-schema-v1.0.0`) as
//! enforced by `opentelemetry-aws`'s translator; see [`Rule`]. Unknown fields
//! are allowed, as in the schema.

use std::cell::Cell;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use socket2::{Domain, Protocol, Socket, Type};

use super::timeline::{Timeline, TimelineEvent};

/// The line every datagram starts with, newline included.
pub const HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";
/// The largest UDP payload over IPv4; X-Ray's own limit (64 kB) is above it.
pub const MAX_DATAGRAM: usize = 65_507;
/// Requested `SO_RCVBUF`; the kernel caps it at `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;
/// How long a wait may take before the test fails, as for the timeline.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The watcher re-enters `Timeline::wait_for` this often so that wait never
/// reaches its own time-out, which panics.
const WATCH_REFRESH: Duration = Duration::from_secs(10);
/// Payload of a poll marker, followed by the poll number.
const MARKER: &str = "next-poll ";
/// X-Ray refuses trace ids whose epoch is older than this (30 days).
const MAX_TRACE_AGE: f64 = 30.0 * 24.0 * 3600.0;
/// ... or further ahead than this (5 minutes).
const MAX_CLOCK_SKEW: f64 = 5.0 * 60.0;
/// X-Ray indexes at most this many annotations.
const MAX_ANNOTATIONS: usize = 50;
/// Every `origin` X-Ray documents.
const ORIGINS: [&str; 9] = [
    "AWS::EC2::Instance",
    "AWS::ECS::Container",
    "AWS::ECS::EC2",
    "AWS::ECS::Fargate",
    "AWS::EKS::Container",
    "AWS::ElasticBeanstalk::Environment",
    "AWS::AppRunner::Service",
    "AWS::Lambda",
    "AWS::Lambda::Function",
];

/// Which rule of the daemon or of X-Ray a datagram broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Datagram over [`MAX_DATAGRAM`] bytes.
    Size,
    /// First line not exactly [`HEADER`].
    Header,
    /// Not one JSON document after the header (none, malformed, not UTF-8).
    Json,
    /// An object repeats a key.
    DuplicateKey,
    /// Bytes after the document that are not JSON.
    TrailingData,
    /// Another JSON value after the document.
    SecondDocument,
    /// A required field is absent.
    Missing,
    /// A field has the wrong JSON type.
    Type,
    /// `name`: 1..=200 characters (250 for subsegments) of letters, numbers,
    /// whitespace and `_ . : / % & # = + \ - @`.
    Name,
    /// An id that is not 16 lower-case hex digits (or is all zeros).
    Id,
    /// `trace_id` not `1-` + 8 + `-` + 24 lower-case hex digits.
    TraceId,
    /// `trace_id`'s epoch older than 30 days or more than 5 minutes ahead.
    TraceIdEpoch,
    /// `start_time` or `end_time` not epoch seconds in that window (a
    /// millisecond or nanosecond time lands here).
    Time,
    /// `end_time` before `start_time`.
    EndBeforeStart,
    /// Neither `end_time` nor `in_progress: true`, or both.
    Completion,
    /// `type` other than `subsegment`.
    DocumentType,
    /// A field only the other kind of document carries (`namespace` on a
    /// segment, `origin` on a subsegment, ...).
    Placement,
    /// A string longer than X-Ray allows (250 characters for most).
    TooLong,
    /// `http.response.status` not an integer HTTP status.
    Http,
    /// `cause` of the wrong shape, or without `error`, `fault` or `throttle`.
    Cause,
    /// Annotation key not 1..=500 ASCII letters, digits or underscores.
    AnnotationKey,
    /// Annotation value not a string (up to 1000 characters), number or bool.
    AnnotationValue,
    /// More than 50 annotations in one document.
    TooManyAnnotations,
    /// `metadata` not an object of objects, or a namespace starting `AWS.`
    /// (reserved for AWS's SDKs).
    Metadata,
    /// `namespace` not `aws` or `remote`.
    Namespace,
    /// `origin` not one of X-Ray's.
    Origin,
}

/// One broken rule: which, where (`subsegments[0].id`; `(datagram)` and
/// `(document)` for the whole) and what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The rule broken.
    pub rule: Rule,
    /// Path of the offending field.
    pub at: String,
    /// What was found, for the failure message.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{:?}]", self.at, self.detail, self.rule)
    }
}

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

    fn summary(&self) -> String {
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

/// Checks one datagram as the daemon and X-Ray would: the document, or every
/// problem found. Tests call it directly for what UDP cannot carry (sizes over
/// [`MAX_DATAGRAM`]).
pub fn parse_datagram(datagram: &[u8]) -> Result<Value, Vec<Problem>> {
    let mut problems = Vec::new();
    if datagram.len() > MAX_DATAGRAM {
        let detail = format!("{} bytes, over {MAX_DATAGRAM}", datagram.len());
        problems.push(problem(Rule::Size, "(datagram)", detail));
    }
    let Some(body) = datagram.strip_prefix(HEADER) else {
        problems.push(header_problem(datagram));
        return Err(problems);
    };
    match one_document(body) {
        Ok(document) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after 1970")
                .as_secs_f64();
            let mut checker = Checker { problems, now };
            checker.document(&document);
            match checker.problems.is_empty() {
                true => Ok(document),
                false => Err(checker.problems),
            }
        }
        Err(found) => {
            problems.push(found);
            Err(problems)
        }
    }
}

fn problem(rule: Rule, at: &str, detail: impl Into<String>) -> Problem {
    let (at, detail) = (at.to_owned(), detail.into());
    Problem { rule, at, detail }
}

fn header_problem(datagram: &[u8]) -> Problem {
    let expected = String::from_utf8_lossy(HEADER);
    let detail = match datagram.iter().position(|b| *b == b'\n') {
        Some(end) => format!(
            "header line {:?} is not {:?}",
            cut(&String::from_utf8_lossy(&datagram[..end])),
            expected.trim_end(),
        ),
        None => format!("no header line (expected {expected:?})"),
    };
    problem(Rule::Header, "(datagram)", detail)
}

/// The single JSON document of `body`, with nothing but whitespace after it.
fn one_document(body: &[u8]) -> Result<Value, Problem> {
    let at = "(document)";
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Strict>();
    let document = match stream.next() {
        Some(Ok(Strict(document))) => document,
        Some(Err(e)) if e.to_string().starts_with(DUPLICATE_KEY) => {
            return Err(problem(Rule::DuplicateKey, at, e.to_string()));
        }
        Some(Err(e)) => return Err(problem(Rule::Json, at, e.to_string())),
        None => return Err(problem(Rule::Json, at, "no document after the header")),
    };
    let rest = &body[stream.byte_offset()..];
    if rest.iter().all(u8::is_ascii_whitespace) {
        return Ok(document);
    }
    let text = cut(&String::from_utf8_lossy(rest));
    let mut after = serde_json::Deserializer::from_slice(rest).into_iter::<de::IgnoredAny>();
    let (rule, detail) = match after.next() {
        Some(Ok(_)) => (
            Rule::SecondDocument,
            format!("another JSON value after it: {text}"),
        ),
        _ => (Rule::TrailingData, format!("bytes after it: {text:?}")),
    };
    Err(problem(rule, "(datagram)", detail))
}

/// Prefix of the error a repeated key raises.
const DUPLICATE_KEY: &str = "duplicate key";

/// A JSON value parsed like `serde_json::Value`, except that a repeated object
/// key is an error instead of the last one silently winning.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE_KEY} {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// What a document is, which decides the rules it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Segment,
    /// Sent on its own: `type`, `trace_id` and `parent_id` required.
    Subsegment,
    /// Inside a `subsegments` array.
    Nested,
}

/// Collects the problems of one document.
struct Checker {
    problems: Vec<Problem>,
    /// Epoch seconds when the datagram was checked.
    now: f64,
}

fn join(path: &str, field: &str) -> String {
    match path {
        "" => field.to_owned(),
        _ => format!("{path}.{field}"),
    }
}

impl Checker {
    fn report(&mut self, rule: Rule, at: &str, detail: impl Into<String>) {
        self.problems.push(problem(rule, at, detail));
    }

    fn wrong_type(&mut self, at: &str, value: &Value, expected: &str) {
        let detail = format!("{} is not {expected}", cut(&value.to_string()));
        self.report(Rule::Type, at, detail);
    }

    fn object<'v>(&mut self, value: &'v Value, at: &str) -> Option<&'v Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            self.wrong_type(at, value, "an object");
        }
        object
    }

    fn array<'v>(&mut self, value: &'v Value, at: &str) -> &'v [Value] {
        match value.as_array() {
            Some(items) => items,
            None => {
                self.wrong_type(at, value, "an array");
                &[]
            }
        }
    }

    fn string<'v>(&mut self, value: &'v Value, at: &str, max_chars: usize) -> Option<&'v str> {
        let Some(text) = value.as_str() else {
            self.wrong_type(at, value, "a string");
            return None;
        };
        let chars = text.chars().count();
        if chars > max_chars {
            let detail = format!("{chars} characters, over {max_chars}");
            self.report(Rule::TooLong, at, detail);
        }
        Some(text)
    }

    fn boolean(&mut self, value: &Value, at: &str) -> bool {
        if value.as_bool().is_none() {
            self.wrong_type(at, value, "a boolean");
        }
        value.as_bool() == Some(true)
    }

    fn integer(&mut self, value: &Value, at: &str) {
        if value.as_i64().is_none() {
            self.wrong_type(at, value, "an integer");
        }
    }

    /// Epoch seconds within the window X-Ray accepts for trace ids.
    fn time(&mut self, value: &Value, at: &str) -> Option<f64> {
        let Some(time) = value.as_f64() else {
            self.wrong_type(at, value, "a number");
            return None;
        };
        if !(self.now - MAX_TRACE_AGE..=self.now + MAX_CLOCK_SKEW).contains(&time) {
            let detail = format!("{time} is not epoch seconds of the last 30 days");
            self.report(Rule::Time, at, detail);
        }
        Some(time)
    }

    fn id(&mut self, value: &Value, at: &str, zero_allowed: bool) {
        let Some(id) = value.as_str() else {
            return self.wrong_type(at, value, "a string");
        };
        if !is_lower_hex(id, 16) {
            let detail = format!("{id:?} is not 16 lower-case hex digits");
            self.report(Rule::Id, at, detail);
        } else if !zero_allowed && id.bytes().all(|b| b == b'0') {
            self.report(Rule::Id, at, "all zeros, the invalid id");
        }
    }

    fn trace_id(&mut self, value: &Value, at: &str) {
        let Some(trace_id) = value.as_str() else {
            return self.wrong_type(at, value, "a string");
        };
        let parts: Vec<&str> = trace_id.split('-').collect();
        let well_formed = matches!(parts.as_slice(), ["1", epoch, random]
            if is_lower_hex(epoch, 8) && is_lower_hex(random, 24));
        if !well_formed {
            let detail = format!("{trace_id:?} is not 1-<8 hex>-<24 hex>");
            return self.report(Rule::TraceId, at, detail);
        }
        let epoch = u32::from_str_radix(parts[1], 16).expect("8 hex digits fit in u32");
        let epoch = f64::from(epoch);
        if epoch < self.now - MAX_TRACE_AGE {
            let days = ((self.now - epoch) / 86_400.0).floor();
            let detail = format!("epoch {epoch} is {days} days old, X-Ray takes 30 at most");
            self.report(Rule::TraceIdEpoch, at, detail);
        } else if epoch > self.now + MAX_CLOCK_SKEW {
            let ahead = (epoch - self.now).floor();
            let detail = format!("epoch {epoch} is {ahead} s ahead, X-Ray takes 300 at most");
            self.report(Rule::TraceIdEpoch, at, detail);
        }
    }

    fn name(&mut self, value: &Value, at: &str, max_chars: usize) {
        let Some(name) = value.as_str() else {
            return self.wrong_type(at, value, "a string");
        };
        let chars = name.chars().count();
        if !(1..=max_chars).contains(&chars) {
            let detail = format!("{chars} characters, not 1 to {max_chars}");
            self.report(Rule::Name, at, detail);
        }
        if let Some(bad) = name.chars().find(|c| !is_name_char(*c)) {
            let detail = format!("{name:?} has {bad:?}, which X-Ray refuses");
            self.report(Rule::Name, at, detail);
        }
    }

    fn document(&mut self, document: &Value) {
        let Some(document) = self.object(document, "(document)") else {
            return;
        };
        let kind = match document.get("type") {
            None => Kind::Segment,
            Some(Value::String(t)) if t == "subsegment" => Kind::Subsegment,
            Some(other) => {
                let detail = format!("{other} is not \"subsegment\"");
                self.report(Rule::DocumentType, "type", detail);
                Kind::Segment
            }
        };
        self.entity(document, "", kind);
    }

    /// A segment or subsegment, nested ones included.
    fn entity(&mut self, doc: &Map<String, Value>, path: &str, kind: Kind) {
        let at = |field: &str| join(path, field);
        let max_name = if kind == Kind::Segment { 200 } else { 250 };
        self.required(doc, path, "name", |c, v, at| c.name(v, at, max_name));
        self.required(doc, path, "id", |c, v, at| c.id(v, at, false));
        match doc.get("trace_id") {
            Some(value) => self.trace_id(value, &at("trace_id")),
            None if kind != Kind::Nested => self.report(Rule::Missing, &at("trace_id"), "required"),
            None => {}
        }
        match doc.get("parent_id") {
            Some(value) => self.id(value, &at("parent_id"), false),
            None if kind == Kind::Subsegment => {
                let detail = "required on a subsegment sent alone";
                self.report(Rule::Missing, &at("parent_id"), detail);
            }
            None => {}
        }
        if kind == Kind::Nested
            && let Some(value) = doc.get("type")
            && value != "subsegment"
        {
            let detail = format!("{value} is not \"subsegment\"");
            self.report(Rule::DocumentType, &at("type"), detail);
        }
        self.times(doc, path);
        self.placement(doc, path, kind);
        self.described_fields(doc, path);
        self.errors(doc, path);
        if let Some(value) = doc.get("annotations") {
            self.annotations(value, &at("annotations"));
        }
        if let Some(value) = doc.get("metadata") {
            self.metadata(value, &at("metadata"));
        }
        if let Some(value) = doc.get("precursor_ids") {
            let at = at("precursor_ids");
            for (i, id) in self.array(value, &at).iter().enumerate() {
                self.id(id, &format!("{at}[{i}]"), false);
            }
        }
        if let Some(value) = doc.get("subsegments") {
            let at = at("subsegments");
            for (i, nested) in self.array(value, &at).iter().enumerate() {
                let path = format!("{at}[{i}]");
                if let Some(nested) = self.object(nested, &path) {
                    self.entity(nested, &path, Kind::Nested);
                }
            }
        }
    }

    fn required(
        &mut self,
        doc: &Map<String, Value>,
        path: &str,
        field: &str,
        check: impl FnOnce(&mut Self, &Value, &str),
    ) {
        let at = join(path, field);
        match doc.get(field) {
            Some(value) => check(self, value, &at),
            None => self.report(Rule::Missing, &at, "required"),
        }
    }

    fn times(&mut self, doc: &Map<String, Value>, path: &str) {
        let start = match doc.get("start_time") {
            Some(value) => self.time(value, &join(path, "start_time")),
            None => {
                self.report(Rule::Missing, &join(path, "start_time"), "required");
                None
            }
        };
        let end = doc
            .get("end_time")
            .and_then(|v| self.time(v, &join(path, "end_time")));
        let in_progress = doc
            .get("in_progress")
            .is_some_and(|v| self.boolean(v, &join(path, "in_progress")));
        match (doc.contains_key("end_time"), in_progress) {
            (false, false) => {
                let detail = "neither end_time nor in_progress: true";
                self.report(Rule::Completion, &join(path, "end_time"), detail);
            }
            (true, true) => {
                let detail = "both end_time and in_progress: true";
                self.report(Rule::Completion, &join(path, "end_time"), detail);
            }
            _ => {}
        }
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            let detail = format!("{end} is before start_time {start}");
            self.report(Rule::EndBeforeStart, &join(path, "end_time"), detail);
        }
    }

    /// Fields that belong to one kind of document only.
    fn placement(&mut self, doc: &Map<String, Value>, path: &str, kind: Kind) {
        let misplaced: &[&str] = match kind {
            Kind::Segment => &["namespace", "precursor_ids"],
            Kind::Subsegment | Kind::Nested => &["origin", "service", "user"],
        };
        let request = doc.get("http").and_then(|h| h.get("request"));
        let misplaced_http = match kind {
            Kind::Segment => "traced",
            Kind::Subsegment | Kind::Nested => "x_forwarded_for",
        };
        for field in misplaced.iter().filter(|f| doc.contains_key(**f)) {
            let detail = format!("not a field of a {kind:?}");
            self.report(Rule::Placement, &join(path, field), detail);
        }
        if request.is_some_and(|r| r.get(misplaced_http).is_some()) {
            let at = join(path, &format!("http.request.{misplaced_http}"));
            self.report(Rule::Placement, &at, format!("not a field of a {kind:?}"));
        }
    }

    /// `namespace`, `origin`, `service`, `user`, `http`, `aws`, `sql`.
    fn described_fields(&mut self, doc: &Map<String, Value>, path: &str) {
        let at = |field: &str| join(path, field);
        if let Some(value) = doc.get("namespace")
            && let Some(namespace) = self.string(value, &at("namespace"), 250)
            && namespace != "aws"
            && namespace != "remote"
        {
            let detail = format!("{namespace:?} is not aws or remote");
            self.report(Rule::Namespace, &at("namespace"), detail);
        }
        if let Some(value) = doc.get("origin")
            && let Some(origin) = self.string(value, &at("origin"), 250)
            && !ORIGINS.contains(&origin)
        {
            let detail = format!("{origin:?} is not one of {ORIGINS:?}");
            self.report(Rule::Origin, &at("origin"), detail);
        }
        if let Some(value) = doc.get("service")
            && let Some(service) = self.object(value, &at("service"))
            && let Some(version) = service.get("version")
        {
            self.string(version, &at("service.version"), 250);
        }
        if let Some(value) = doc.get("user") {
            self.string(value, &at("user"), 250);
        }
        if let Some(value) = doc.get("http") {
            self.http(value, &at("http"));
        }
        for field in ["aws", "sql"] {
            if let Some(value) = doc.get(field) {
                self.object(value, &at(field));
            }
        }
    }

    fn http(&mut self, value: &Value, at: &str) {
        let Some(http) = self.object(value, at) else {
            return;
        };
        if let Some(request) = http.get("request") {
            let at = join(at, "request");
            if let Some(request) = self.object(request, &at) {
                for field in ["method", "url", "user_agent", "client_ip"] {
                    if let Some(value) = request.get(field) {
                        self.string(value, &join(&at, field), 250);
                    }
                }
                for field in ["x_forwarded_for", "traced"] {
                    if let Some(value) = request.get(field) {
                        self.boolean(value, &join(&at, field));
                    }
                }
            }
        }
        if let Some(response) = http.get("response") {
            let at = join(at, "response");
            if let Some(response) = self.object(response, &at) {
                if let Some(status) = response.get("status")
                    && !status.as_u64().is_some_and(|s| (100..=599).contains(&s))
                {
                    let detail = format!("{status} is not an integer HTTP status");
                    self.report(Rule::Http, &join(&at, "status"), detail);
                }
                if let Some(length) = response.get("content_length")
                    && !length.is_number()
                {
                    self.wrong_type(&join(&at, "content_length"), length, "a number");
                }
            }
        }
    }

    /// `error`, `fault`, `throttle` and `cause`.
    fn errors(&mut self, doc: &Map<String, Value>, path: &str) {
        let mut flagged = false;
        for flag in ["error", "fault", "throttle"] {
            if let Some(value) = doc.get(flag) {
                flagged |= self.boolean(value, &join(path, flag));
            }
        }
        let Some(cause) = doc.get("cause") else {
            return;
        };
        let at = join(path, "cause");
        if !flagged {
            let detail = "a cause without error, fault or throttle set";
            self.report(Rule::Cause, &at, detail);
        }
        match cause {
            Value::String(_) => self.id(cause, &at, true),
            Value::Object(cause) => {
                if let Some(value) = cause.get("working_directory") {
                    self.string(value, &join(&at, "working_directory"), usize::MAX);
                }
                if let Some(value) = cause.get("paths") {
                    let at = join(&at, "paths");
                    for (i, path) in self.array(value, &at).iter().enumerate() {
                        self.string(path, &format!("{at}[{i}]"), usize::MAX);
                    }
                }
                if let Some(value) = cause.get("exceptions") {
                    let at = join(&at, "exceptions");
                    for (i, exception) in self.array(value, &at).iter().enumerate() {
                        self.exception(exception, &format!("{at}[{i}]"));
                    }
                }
            }
            other => {
                let detail = format!(
                    "{} is neither an exception id nor an object",
                    cut(&other.to_string())
                );
                self.report(Rule::Cause, &at, detail);
            }
        }
    }

    fn exception(&mut self, value: &Value, at: &str) {
        let Some(exception) = self.object(value, at) else {
            return;
        };
        // opentelemetry-aws 0.21 writes every exception id as zeros; X-Ray's
        // schema asks only for 16 characters.
        self.required(exception, at, "id", |c, v, at| c.id(v, at, true));
        for field in ["message", "type", "cause"] {
            if let Some(value) = exception.get(field) {
                self.string(value, &join(at, field), usize::MAX);
            }
        }
        if let Some(value) = exception.get("remote") {
            self.boolean(value, &join(at, "remote"));
        }
        for field in ["truncated", "skipped"] {
            if let Some(value) = exception.get(field) {
                self.integer(value, &join(at, field));
            }
        }
        if let Some(value) = exception.get("stack") {
            let at = join(at, "stack");
            for (i, frame) in self.array(value, &at).iter().enumerate() {
                let at = format!("{at}[{i}]");
                let Some(frame) = self.object(frame, &at) else {
                    continue;
                };
                for field in ["path", "label"] {
                    if let Some(value) = frame.get(field) {
                        self.string(value, &join(&at, field), usize::MAX);
                    }
                }
                if let Some(line) = frame.get("line") {
                    self.integer(line, &join(&at, "line"));
                }
            }
        }
    }

    fn annotations(&mut self, value: &Value, at: &str) {
        let Some(annotations) = self.object(value, at) else {
            return;
        };
        if annotations.len() > MAX_ANNOTATIONS {
            let detail = format!("{} annotations, over {MAX_ANNOTATIONS}", annotations.len());
            self.report(Rule::TooManyAnnotations, at, detail);
        }
        for (key, value) in annotations {
            let at = format!("{at}[{key:?}]");
            let key_ok = (1..=500).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !key_ok {
                let detail = "keys are 1 to 500 ASCII letters, digits or _";
                self.report(Rule::AnnotationKey, &at, detail);
            }
            match value {
                Value::String(s) if s.chars().count() > 1000 => {
                    self.report(Rule::AnnotationValue, &at, "a string over 1000 characters");
                }
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
                other => {
                    let detail = format!(
                        "{} is not a string, number or boolean",
                        cut(&other.to_string())
                    );
                    self.report(Rule::AnnotationValue, &at, detail);
                }
            }
        }
    }

    fn metadata(&mut self, value: &Value, at: &str) {
        let Some(namespaces) = self.object(value, at) else {
            return;
        };
        for (namespace, value) in namespaces {
            let at = format!("{at}[{namespace:?}]");
            if namespace.starts_with("AWS.") {
                let detail = "namespaces starting AWS. are reserved for AWS's SDKs";
                self.report(Rule::Metadata, &at, detail);
            }
            if !value.is_object() {
                let detail = format!(
                    "{} is not an object (a namespace of key-value pairs)",
                    cut(&value.to_string())
                );
                self.report(Rule::Metadata, &at, detail);
            }
        }
    }
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// X-Ray's name characters. `is_alphabetic` is a little wider than the
/// schema's `\p{L}` (it also takes some combining marks).
fn is_name_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/%&#=+\\-@".contains(c)
}

/// `text`, cut after 200 characters.
fn cut(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// One entry of the daemon's arrival log.
enum Arrival {
    /// Index into `Log::documents`.
    Document(usize),
    /// Index into `Log::violations`.
    Violation(usize),
    /// Marker for `/next` poll #n.
    NextPoll(usize),
}

#[derive(Default)]
struct Log {
    arrivals: Vec<Arrival>,
    documents: Vec<Document>,
    violations: Vec<Violation>,
    /// Datagrams from exporters (markers not counted).
    datagrams: usize,
    /// Polls placed so far.
    polls: usize,
}

impl Log {
    fn keep(&mut self, datagram: Vec<u8>, checked: Result<Value, Vec<Problem>>) {
        let (seq, polls_before) = (self.datagrams, self.polls);
        self.datagrams += 1;
        match checked {
            Ok(json) => {
                self.arrivals.push(Arrival::Document(self.documents.len()));
                self.documents.push(Document {
                    seq,
                    polls_before,
                    json,
                });
            }
            Err(problems) => {
                self.arrivals
                    .push(Arrival::Violation(self.violations.len()));
                let violation = Violation {
                    seq,
                    polls_before,
                    problems,
                    datagram,
                };
                self.violations.push(violation);
            }
        }
    }

    fn place_poll(&mut self, marker: &[u8]) {
        let n = std::str::from_utf8(marker)
            .ok()
            .and_then(|m| m.strip_prefix(MARKER))
            .and_then(|n| n.parse().ok());
        match n {
            Some(n) => {
                self.polls = self.polls.max(n);
                self.arrivals.push(Arrival::NextPoll(n));
            }
            None => eprintln!("xray-daemon: unreadable poll marker {marker:?}"),
        }
    }

    fn describe(&self) -> String {
        if self.arrivals.is_empty() {
            return "  (nothing)".to_owned();
        }
        let lines: Vec<String> = self
            .arrivals
            .iter()
            .map(|arrival| match arrival {
                Arrival::Document(i) => {
                    let d = &self.documents[*i];
                    format!("  #{} {}", d.seq, d.summary())
                }
                Arrival::Violation(i) => {
                    let v = &self.violations[*i];
                    format!("  #{} {v}", v.seq)
                }
                Arrival::NextPoll(n) => format!("  -- /next poll #{n} --"),
            })
            .collect();
        lines.join("\n")
    }
}

struct State {
    log: Mutex<Log>,
    changed: Condvar,
}

impl State {
    // A panicking test thread must not hide later datagrams: the log is only
    // ever changed whole under the lock.
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut Log)) {
        change(&mut self.log());
        self.changed.notify_all();
    }

    /// Blocks until `pred` holds; panics after 30 s naming `what` and listing
    /// what arrived.
    fn wait_for(&self, pred: impl Fn(&Log) -> bool, what: &str) -> MutexGuard<'_, Log> {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        let mut log = self.log();
        while !pred(&log) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let seen = log.describe();
                drop(log);
                panic!(
                    "timed out after {WAIT_TIMEOUT:?} waiting for {what}; X-Ray daemon saw:\n{seen}"
                );
            }
            log = self
                .changed
                .wait_timeout(log, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        log
    }
}

/// Handle on a running loopback X-Ray daemon.
pub struct XrayDaemon {
    addr: SocketAddr,
    receive_buffer: usize,
    state: Arc<State>,
}

impl XrayDaemon {
    /// Binds 127.0.0.1:0 with a large receive buffer and starts reading on
    /// its own threads; the address is known (and queuing) on return. Polls
    /// that `timeline` records from now on are placed among the datagrams.
    pub fn start(timeline: Timeline) -> Self {
        let (socket, receive_buffer) = bind_with_large_buffer();
        let addr = socket.local_addr().expect("bound socket has an address");
        let marker =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the poll-marker socket");
        let marker_from = marker.local_addr().expect("bound socket has an address");
        let state = Arc::new(State {
            log: Mutex::default(),
            changed: Condvar::new(),
        });
        let (to_check, datagrams) = mpsc::channel();
        spawn("xray-daemon-recv", move || receive(&socket, &to_check));
        let shared = Arc::clone(&state);
        spawn("xray-daemon-check", move || {
            for (datagram, from) in datagrams {
                if from == marker_from {
                    shared.update(|log| log.place_poll(&datagram));
                } else {
                    let checked = parse_datagram(&datagram);
                    shared.update(|log| log.keep(datagram, checked));
                }
            }
        });
        spawn("xray-daemon-polls", move || {
            watch_polls(&timeline, &marker, addr)
        });
        Self {
            addr,
            receive_buffer,
            state,
        }
    }

    /// Where the daemon listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, the form of `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The environment Lambda sets with Active tracing, pointing at this daemon.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![("AWS_XRAY_DAEMON_ADDRESS", self.address())]
    }

    /// Sets [`Self::env_vars`] in the process environment; call it before
    /// anything that reads the environment starts.
    pub fn set_env(&self) {
        for (key, value) in self.env_vars() {
            // SAFETY: as for `RuntimeApi::set_env`: one test per process under
            // cargo-nextest, set before the runtime or any exporter thread
            // starts; the daemon's threads never touch the environment.
            unsafe { std::env::set_var(key, value) };
        }
    }

    /// The socket's receive buffer as the kernel granted it (it doubles the
    /// request, capped by `net.core.rmem_max`).
    pub fn receive_buffer(&self) -> usize {
        self.receive_buffer
    }

    /// A `127.0.0.1:PORT` where no socket is bound: datagrams sent there are
    /// lost. The port was free a moment ago; ephemeral ports are not reused
    /// that quickly.
    pub fn unbound_address() -> String {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
        let addr = socket.local_addr().expect("bound socket has an address");
        drop(socket);
        addr.to_string()
    }

    /// Every valid document so far, in arrival order.
    pub fn documents(&self) -> Vec<Document> {
        self.state.log().documents.clone()
    }

    /// Every rejected datagram so far, in arrival order.
    pub fn violations(&self) -> Vec<Violation> {
        self.state.log().violations.clone()
    }

    /// Datagrams received so far, valid or not.
    pub fn datagram_count(&self) -> usize {
        self.state.log().datagrams
    }

    /// Waits until `n` valid documents have arrived and returns all of them.
    pub fn wait_for_documents(&self, n: usize) -> Vec<Document> {
        let what = format!("{n} valid X-Ray document(s)");
        let log = self.state.wait_for(|log| log.documents.len() >= n, &what);
        log.documents.clone()
    }

    /// Waits until `n` datagrams have been rejected and returns all of them.
    pub fn wait_for_violations(&self, n: usize) -> Vec<Violation> {
        let what = format!("{n} rejected datagram(s)");
        let log = self.state.wait_for(|log| log.violations.len() >= n, &what);
        log.violations.clone()
    }

    /// Waits until `n` datagrams have arrived, valid or not.
    pub fn wait_for_datagrams(&self, n: usize) {
        let what = format!("{n} datagram(s)");
        drop(self.state.wait_for(|log| log.datagrams >= n, &what));
    }

    /// Panics listing every rejected datagram and what it broke, if any.
    pub fn assert_no_violations(&self) {
        let log = self.state.log();
        if !log.violations.is_empty() {
            let seen = log.describe();
            let count = log.violations.len();
            drop(log);
            panic!("the X-Ray daemon rejected {count} datagram(s):\n{seen}");
        }
    }

    /// The valid documents sent before the runtime's `n`-th `/next` poll.
    /// Waits until that poll has been placed (so it waits for the poll too).
    pub fn documents_before_next_poll(&self, n: usize) -> Vec<Document> {
        let log = self.wait_for_poll(n);
        let before = log.documents.iter().filter(|d| d.polls_before < n);
        before.cloned().collect()
    }

    /// The valid documents that arrived after the runtime's `n`-th `/next`
    /// poll, so far. Waits until that poll has been placed.
    pub fn documents_after_next_poll(&self, n: usize) -> Vec<Document> {
        let log = self.wait_for_poll(n);
        let after = log.documents.iter().filter(|d| d.polls_before >= n);
        after.cloned().collect()
    }

    /// Asserts that documents matching `pred` (`what` names them) arrived, all
    /// before the runtime's `n`-th `/next` poll, and returns them. A document
    /// not sent yet counts as neither: check the count returned.
    pub fn assert_arrived_before_next_poll(
        &self,
        n: usize,
        what: &str,
        pred: impl Fn(&Document) -> bool,
    ) -> Vec<Document> {
        let log = self.wait_for_poll(n);
        let (before, after): (Vec<&Document>, Vec<&Document>) = log
            .documents
            .iter()
            .filter(|d| pred(d))
            .partition(|d| d.polls_before < n);
        if before.is_empty() || !after.is_empty() {
            panic!(
                "{what}: {} before /next poll #{n}, {} after it; X-Ray daemon saw:\n{}",
                before.len(),
                after.len(),
                log.describe(),
            );
        }
        before.into_iter().cloned().collect()
    }

    /// Everything received, with the polls placed among it, as numbered lines
    /// for assertion messages.
    pub fn describe(&self) -> String {
        self.state.log().describe()
    }

    fn wait_for_poll(&self, n: usize) -> MutexGuard<'_, Log> {
        let what = format!("/next poll #{n} to be placed among the X-Ray datagrams");
        self.state.wait_for(|log| log.polls >= n, &what)
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .unwrap_or_else(|e| panic!("{name}: cannot spawn thread: {e}"));
}

/// A UDP socket on 127.0.0.1:0 with `SO_RCVBUF` raised, and the size granted:
/// an exporter sends a whole invocation's documents in a burst.
fn bind_with_large_buffer() -> (UdpSocket, usize) {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .expect("xray-daemon: create a UDP socket");
    socket
        .set_recv_buffer_size(RECEIVE_BUFFER)
        .expect("xray-daemon: set SO_RCVBUF");
    let granted = socket
        .recv_buffer_size()
        .expect("xray-daemon: read SO_RCVBUF");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    socket
        .bind(&addr.into())
        .unwrap_or_else(|e| panic!("xray-daemon: cannot bind 127.0.0.1:0: {e}"));
    (socket.into(), granted)
}

/// Reads datagrams and hands them on at once, so the kernel's buffer drains
/// as fast as the loopback fills it; checking happens on another thread.
fn receive(socket: &UdpSocket, to_check: &mpsc::Sender<(Vec<u8>, SocketAddr)>) {
    // Larger than any UDP payload, so nothing is ever truncated.
    let mut buffer = vec![0; 65_536];
    loop {
        match socket.recv_from(&mut buffer) {
            Ok((len, from)) => {
                if to_check.send((buffer[..len].to_vec(), from)).is_err() {
                    return;
                }
            }
            Err(e) => eprintln!("xray-daemon: receive failed: {e}"),
        }
    }
}

/// Sends a marker to the daemon for every `/next` poll the timeline records,
/// from inside the timeline's wait (its lock held), so the marker is queued
/// before anything the runtime does after that poll can be recorded.
fn watch_polls(timeline: &Timeline, marker: &UdpSocket, daemon: SocketAddr) {
    let scanned = Cell::new(0);
    loop {
        let since = Instant::now();
        let _ = timeline.wait_for(
            |events| {
                for event in &events[scanned.get()..] {
                    if let TimelineEvent::NextPolled { n } = event
                        && let Err(e) = marker.send_to(format!("{MARKER}{n}").as_bytes(), daemon)
                    {
                        eprintln!("xray-daemon: cannot place /next poll #{n}: {e}");
                    }
                }
                scanned.set(events.len());
                since.elapsed() >= WATCH_REFRESH
            },
            "the X-Ray daemon's periodic re-watch",
        );
    }
}
