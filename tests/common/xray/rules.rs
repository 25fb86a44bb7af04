//! The rules a datagram can break, and the problem report naming one.

use std::fmt;

/// Which rule of the daemon or of X-Ray a datagram broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Datagram over [`MAX_DATAGRAM`](super::MAX_DATAGRAM) bytes.
    Size,
    /// First line not exactly [`HEADER`](super::HEADER).
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

pub(super) fn problem(rule: Rule, at: &str, detail: impl Into<String>) -> Problem {
    let (at, detail) = (at.to_owned(), detail.into());
    Problem { rule, at, detail }
}

/// `text`, cut after 200 characters.
pub(super) fn cut(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
