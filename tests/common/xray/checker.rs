//! The segment-document rule checker: the walk over a document and its
//! nested subsegments, and the checks of single values it is built from. The
//! optional fields X-Ray describes are checked in [`super::fields`].

use serde_json::{Map, Value};

use super::rules::{Problem, Rule, cut, problem};

/// X-Ray refuses trace ids whose epoch is older than this (30 days).
const MAX_TRACE_AGE: f64 = 30.0 * 24.0 * 3600.0;
/// ... or further ahead than this (5 minutes).
const MAX_CLOCK_SKEW: f64 = 5.0 * 60.0;

/// What a document is, which decides the rules it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Segment,
    /// Sent on its own: `type`, `trace_id` and `parent_id` required.
    Subsegment,
    /// Inside a `subsegments` array.
    Nested,
}

/// Collects the problems of one document.
pub(super) struct Checker {
    pub(super) problems: Vec<Problem>,
    /// Epoch seconds when the datagram was checked.
    pub(super) now: f64,
}

pub(super) fn join(path: &str, field: &str) -> String {
    match path {
        "" => field.to_owned(),
        _ => format!("{path}.{field}"),
    }
}

impl Checker {
    pub(super) fn report(&mut self, rule: Rule, at: &str, detail: impl Into<String>) {
        self.problems.push(problem(rule, at, detail));
    }

    pub(super) fn wrong_type(&mut self, at: &str, value: &Value, expected: &str) {
        let detail = format!("{} is not {expected}", cut(&value.to_string()));
        self.report(Rule::Type, at, detail);
    }

    pub(super) fn object<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
    ) -> Option<&'v Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            self.wrong_type(at, value, "an object");
        }
        object
    }

    pub(super) fn array<'v>(&mut self, value: &'v Value, at: &str) -> &'v [Value] {
        match value.as_array() {
            Some(items) => items,
            None => {
                self.wrong_type(at, value, "an array");
                &[]
            }
        }
    }

    pub(super) fn string<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
        max_chars: usize,
    ) -> Option<&'v str> {
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

    pub(super) fn boolean(&mut self, value: &Value, at: &str) -> bool {
        if value.as_bool().is_none() {
            self.wrong_type(at, value, "a boolean");
        }
        value.as_bool() == Some(true)
    }

    pub(super) fn integer(&mut self, value: &Value, at: &str) {
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

    pub(super) fn id(&mut self, value: &Value, at: &str, zero_allowed: bool) {
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

    pub(super) fn document(&mut self, document: &Value) {
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

    pub(super) fn required(
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
