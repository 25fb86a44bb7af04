//! A malformed or unexpected event never panics, never fails the invocation and still gets a
//! span: property tests of the event inspection (`lambda_otel::trigger::__inspect`), each
//! starting from a sample in `events/` (every `*.json` but `*.decoded.json`).
//!
//! Inputs: samples truncated at any byte; bytes flipped, replaced, inserted or deleted; any JSON
//! node replaced by a value of another type; object keys dropped or duplicated; deep nesting
//! (200 and 100 000 levels) around a sample or in place of a node; strings blown up to 1 MB;
//! arbitrary bytes, arbitrary UTF-8 and JSON documents that are not objects. For each: the
//! inspection returns, every recorded string (and the name) is at most `MAX_VALUE_LEN` bytes,
//! text that is not JSON is a direct invocation with no attributes, no planted secret is
//! recorded, and an edit of a field the probe does not read changes nothing.
//!
//! Deterministic: a fixed seed, a fixed number of cases per property, no failure files.

use lambda_otel::config::env::DEFAULT_REDACTED_QUERY_KEYS;
use lambda_otel::trigger::{__inspect, EventSource, MAX_VALUE_LEN};
use opentelemetry::{Array, KeyValue, Value as AttributeValue};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{RngAlgorithm, RngSeed};
use serde::de::IgnoredAny;
use serde_json::Value;
use std::path::Path;
use std::sync::LazyLock;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x1a3b_da07),
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    }
}

/// What the samples hide in headers and query strings (see `events/README.md`).
const SECRETS: [&str; 2] = ["SECRET", "s3cr3t"];

static KEYS: LazyLock<Vec<Box<str>>> = LazyLock::new(|| {
    DEFAULT_REDACTED_QUERY_KEYS
        .iter()
        .map(|&k| k.into())
        .collect()
});

static SAMPLES: LazyLock<Vec<Sample>> = LazyLock::new(Sample::load_all);

/// The fields the probe reads (`src/trigger/probe.rs`), as paths (`*`: any record);
/// everything below a path is read too. Any other field is skipped unread, so no edit of it
/// may change the span.
const READ: &str = "
    routeKey rawPath rawQueryString httpMethod resource path queryStringParameters
    multiValueQueryStringParameters headers multiValueHeaders
    requestContext/http/method requestContext/http/protocol requestContext/http/sourceIp
    requestContext/http/userAgent requestContext/identity/sourceIp
    requestContext/identity/userAgent requestContext/domainName requestContext/protocol
    requestContext/elb
    Records/*/eventSource Records/*/EventSource Records/*/eventSourceARN Records/*/awsRegion
    Records/*/messageId Records/*/attributes/AWSTraceHeader Records/*/messageAttributes
    Records/*/Sns/TopicArn Records/*/Sns/MessageId Records/*/Sns/MessageAttributes
    Records/*/eventName Records/*/eventTime Records/*/s3/bucket/name Records/*/s3/object/key
    Records/*/kinesis/sequenceNumber
    source detail-type id time resources
    awslogs
";

/// What the span gets from an event.
#[derive(Debug, PartialEq)]
struct Outcome {
    source: EventSource,
    name: Option<String>,
    attributes: Vec<KeyValue>,
    contexts: usize,
}

/// Inspects `event` and checks what holds for any input.
fn check(event: &[u8], secrets: bool) -> Result<Outcome, TestCaseError> {
    let (source, name, attributes, contexts) = __inspect(event, &KEYS);
    let mut strings: Vec<&str> = name.as_deref().into_iter().collect();
    for KeyValue { value, .. } in &attributes {
        match value {
            AttributeValue::String(s) => strings.push(s.as_str()),
            AttributeValue::Array(Array::String(values)) => {
                strings.extend(values.iter().map(|s| s.as_str()));
            }
            _ => {}
        }
    }
    for s in &strings {
        prop_assert!(s.len() <= MAX_VALUE_LEN, "{} bytes recorded", s.len());
        if secrets {
            prop_assert!(
                !SECRETS.iter().any(|x| s.contains(x)),
                "secret recorded: {s}"
            );
        }
    }
    // The probe skips what it does not read without building it, so it accepts text that a
    // `serde_json::Value` would not (a number out of range, a lone surrogate escape, nesting
    // deeper than 128 in a skipped value); what no JSON reader accepts is direct.
    if serde_json::from_slice::<IgnoredAny>(event).is_err() {
        prop_assert_eq!(source, EventSource::Direct);
        prop_assert!(name.is_none() && attributes.is_empty() && contexts == 0);
    }
    Ok(Outcome {
        source,
        name,
        attributes,
        contexts,
    })
}

/// A node of a sample's JSON tree, in the order [`Writer`] meets them.
#[derive(Debug)]
struct Node {
    /// Object keys, and `None` for array elements.
    path: Vec<Option<String>>,
    string: bool,
    /// A value in an object (rather than an array element or the root).
    member: bool,
}

impl Node {
    fn is_read(&self) -> bool {
        READ.split_whitespace().any(|pattern| {
            // Equal, an ancestor of a read path, or below one.
            self.path
                .iter()
                .zip(pattern.split('/'))
                .all(|(seg, p)| match seg {
                    Some(key) => key == p,
                    None => p == "*",
                })
        })
    }
}

fn walk(value: &Value, path: &mut Vec<Option<String>>, member: bool, out: &mut Vec<Node>) {
    out.push(Node {
        path: path.clone(),
        string: value.is_string(),
        member,
    });
    match value {
        Value::Array(items) => items.iter().for_each(|item| {
            path.push(None);
            walk(item, path, false, out);
            path.pop();
        }),
        Value::Object(map) => map.iter().for_each(|(key, item)| {
            path.push(Some(key.clone()));
            walk(item, path, true, out);
            path.pop();
        }),
        _ => {}
    }
}

/// A structural edit of one node.
#[derive(Debug, Clone)]
enum Edit {
    /// Writes this JSON text instead of the node.
    Replace(String),
    /// Appends this to the node, a string.
    Pad(String),
    /// Leaves the member out of its object.
    Drop,
    /// Writes the member twice.
    Duplicate,
}

impl Edit {
    fn applies_to(&self, node: &Node) -> bool {
        match self {
            Self::Replace(_) => true,
            Self::Pad(_) => node.string,
            Self::Drop | Self::Duplicate => node.member,
        }
    }
}

/// `value` as JSON text, with the `n`th node edited (a `serde_json::Value` cannot hold a
/// duplicate key).
fn write(value: &Value, edit: Option<(usize, &Edit)>) -> String {
    let mut writer = Writer {
        edit,
        next: 0,
        out: String::new(),
    };
    writer.value(value);
    writer.out
}

struct Writer<'a> {
    edit: Option<(usize, &'a Edit)>,
    /// The number of the next node.
    next: usize,
    out: String,
}

impl<'a> Writer<'a> {
    /// The edit of the next node.
    fn edit(&self) -> Option<&'a Edit> {
        self.edit
            .filter(|(n, _)| *n == self.next)
            .map(|(_, edit)| edit)
    }

    fn value(&mut self, value: &Value) {
        let edit = self.edit();
        self.next += 1;
        match (edit, value) {
            (Some(Edit::Replace(text)), _) => {
                self.out.push_str(text);
                self.next += size(value) - 1;
                return;
            }
            (Some(Edit::Pad(pad)), Value::String(s)) => {
                self.out.push_str(&quoted(&format!("{s}{pad}")));
                return;
            }
            _ => {}
        }
        match value {
            Value::Array(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.value(item);
                }
                self.out.push(']');
            }
            Value::Object(map) => {
                self.out.push('{');
                let mut first = true;
                for (key, item) in map {
                    self.member(key, item, &mut first);
                }
                self.out.push('}');
            }
            scalar => self.out.push_str(&scalar.to_string()),
        }
    }

    fn member(&mut self, key: &str, item: &Value, first: &mut bool) {
        let copies = match self.edit() {
            Some(Edit::Drop) => 0,
            Some(Edit::Duplicate) => 2,
            _ => 1,
        };
        if copies == 0 {
            self.next += size(item);
        }
        for copy in 0..copies {
            if !*first {
                self.out.push(',');
            }
            *first = false;
            self.out.push_str(&quoted(key));
            self.out.push(':');
            if copy == 0 {
                self.value(item);
            } else {
                self.out.push_str(&item.to_string());
            }
        }
    }
}

fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// The number of nodes in `value`.
fn size(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(size).sum(),
        Value::Object(map) => map.values().map(size).sum(),
        _ => 0,
    }
}

struct Sample {
    name: String,
    bytes: Vec<u8>,
    json: Value,
    nodes: Vec<Node>,
    /// The outcome for the sample written back unedited (key order may differ from the file).
    baseline: Outcome,
}

/// A failing case names its sample.
impl std::fmt::Debug for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Sample {
    fn load_all() -> Vec<Self> {
        let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
        let mut paths = Vec::new();
        for dir in [events.clone(), events.join("triggers")] {
            for entry in std::fs::read_dir(&dir).expect("events/ is readable") {
                let path = entry.expect("events/ is readable").path();
                let name = path.to_string_lossy();
                if name.ends_with(".json") && !name.ends_with(".decoded.json") {
                    paths.push(path);
                }
            }
        }
        paths.sort();
        assert!(paths.len() >= 20, "the samples are missing: {paths:?}");
        paths.iter().map(|path| Self::load(path)).collect()
    }

    fn load(path: &Path) -> Self {
        let bytes = std::fs::read(path).expect("a sample is readable");
        let json: Value = serde_json::from_slice(&bytes).expect("a sample is JSON");
        let mut nodes = Vec::new();
        walk(&json, &mut Vec::new(), false, &mut nodes);
        let baseline = check(write(&json, None).as_bytes(), true).expect("the checks hold");
        let name = path.file_name().expect("a file name").to_string_lossy();
        Self {
            name: name.into_owned(),
            bytes,
            json,
            nodes,
            baseline,
        }
    }

    /// Applies `edit` to the `at`th node it applies to; `None` when there is none.
    fn edit(&self, at: Index, edit: &Edit) -> Option<(String, &Node)> {
        let fits: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| edit.applies_to(&self.nodes[i]))
            .collect();
        let target = *fits.get(at.index(fits.len().max(1)))?;
        Some((write(&self.json, Some((target, edit))), &self.nodes[target]))
    }

    /// Checks an edited sample: an edit of a field the probe does not read changes nothing.
    fn check_edit(&self, at: Index, edit: &Edit, secrets: bool) -> Result<(), TestCaseError> {
        let Some((event, node)) = self.edit(at, edit) else {
            return Ok(());
        };
        let outcome = check(event.as_bytes(), secrets)?;
        if !node.is_read() {
            prop_assert_eq!(&outcome, &self.baseline, "{} at {:?}", self.name, node.path);
        }
        Ok(())
    }
}

fn sample() -> impl Strategy<Value = &'static Sample> {
    (0..SAMPLES.len()).prop_map(|i| &SAMPLES[i])
}

/// Object keys: mostly ones the probe reads, so generated objects reach its fields.
fn key() -> impl Strategy<Value = String> {
    let probe = READ
        .split_whitespace()
        .flat_map(|p| p.split('/'))
        .filter(|&k| k != "*")
        .chain([
            "traceparent",
            "stringValue",
            "Value",
            "user-agent",
            "host",
            "data",
        ])
        .collect::<Vec<_>>();
    prop_oneof![3 => select(probe).prop_map(str::to_owned), 1 => "[a-zA-Z-]{0,8}"]
}

/// Strings: short ones, values the detection looks for, and ones just over the bound with a
/// multi-byte character across it.
fn string() -> impl Strategy<Value = String> {
    let known = [
        "",
        "aws:sqs",
        "aws:sns",
        "aws:kinesis",
        "aws:dynamodb",
        "aws:s3",
        "GET",
        "BREW",
        "HTTP/1.1",
        "Scheduled Event",
        "aws.events",
        "ObjectCreated:Put",
        "MODIFY",
        "%zz+%e2",
        "arn:aws:sqs:us-east-1:123456789012:q",
        "arn:aws:dynamodb:r:1:table/t/stream/x",
        "arn:aws:kinesis:r:1:stream/s",
        "x.lambda-url.us-east-1.on.aws",
        "GET /a/{b}",
    ];
    let long = (0..4usize, select(vec!["x", "é", "€", "😀"])).prop_map(|(prefix, unit)| {
        "a".repeat(prefix) + &unit.repeat(MAX_VALUE_LEN / unit.len() + 1)
    });
    prop_oneof![
        4 => "[ -~]{0,12}",
        2 => "\\PC{0,12}",
        2 => select(known.to_vec()).prop_map(str::to_owned),
        1 => long,
    ]
}

/// Any JSON value, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e300..1e300f64).prop_map(Value::from),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// JSON text for a node: any value, or a token a `Value` cannot hold.
fn replacement() -> impl Strategy<Value = String> {
    let tokens = [
        "1e400",
        "-0",
        "123456789012345678901234567890",
        "\"\\ud800\"",
        "\"\\u0000\"",
        "\"\\\"\"",
        "[[[[[[]]]]]]",
    ];
    prop_oneof![
        8 => json().prop_map(|v| v.to_string()),
        1 => select(tokens.to_vec()).prop_map(str::to_owned),
    ]
}

/// `depth` levels of arrays or of `{"a":`, around `inner`.
fn nested(depth: usize, object: bool, inner: &str, closed: bool) -> String {
    let (open, close) = if object { ("{\"a\":", "}") } else { ("[", "]") };
    let mut text = open.repeat(depth) + inner;
    if closed {
        text += &close.repeat(depth);
    }
    text
}

#[test]
fn every_sample_is_recognised() {
    for sample in SAMPLES.iter() {
        let outcome = check(&sample.bytes, true).unwrap_or_else(|e| panic!("{}: {e}", sample.name));
        let direct = sample.name == "direct.json";
        assert_eq!(
            outcome.source == EventSource::Direct,
            direct,
            "{}",
            sample.name
        );
        assert_eq!(outcome.source, sample.baseline.source, "{}", sample.name);
    }
}

#[test]
fn deep_nesting_around_a_sample_is_direct() {
    for sample in SAMPLES.iter() {
        let text = std::str::from_utf8(&sample.bytes).expect("a sample is UTF-8");
        for depth in [200, 100_000] {
            for object in [false, true] {
                for closed in [false, true] {
                    let event = nested(depth, object, text, closed);
                    let outcome = check(event.as_bytes(), true).expect("checks hold");
                    assert_eq!(outcome.source, EventSource::Direct, "{}", sample.name);
                    assert!(outcome.attributes.is_empty(), "{}", sample.name);
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Flip(u8),
    Set(u8),
    Insert(&'static str),
    Delete,
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let tokens = [
        "\"", "\\", "\\u", "{", "}", "[", "]", ",", ":", "null", "1e400", "\u{0}", "é", "\\ud800",
    ];
    prop_oneof![
        (0..8u8).prop_map(ByteEdit::Flip),
        any::<u8>().prop_map(ByteEdit::Set),
        select(tokens.to_vec()).prop_map(ByteEdit::Insert),
        Just(ByteEdit::Delete),
    ]
}

fn apply(bytes: &mut Vec<u8>, at: Index, edit: &ByteEdit) {
    let i = at.index(bytes.len() + 1);
    match (edit, i < bytes.len()) {
        (ByteEdit::Flip(bit), true) => bytes[i] ^= 1 << bit,
        (ByteEdit::Set(byte), true) => bytes[i] = *byte,
        (ByteEdit::Delete, true) => {
            bytes.remove(i);
        }
        (ByteEdit::Insert(token), _) => {
            bytes.splice(i..i, token.bytes());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn truncated(sample in sample(), at in any::<Index>()) {
        let cut = at.index(sample.bytes.len() + 1);
        check(&sample.bytes[..cut], true)?;
    }

    /// A byte edit can rename a sensitive query key, so secrets are not checked here.
    #[test]
    fn bytes_edited(
        sample in sample(),
        edits in prop::collection::vec((any::<Index>(), byte_edit()), 1..6),
    ) {
        let mut bytes = sample.bytes.clone();
        for (at, edit) in &edits {
            apply(&mut bytes, *at, edit);
        }
        check(&bytes, false)?;
    }

    #[test]
    fn keys_dropped_or_duplicated(
        sample in sample(),
        at in any::<Index>(),
        duplicate in any::<bool>(),
    ) {
        let edit = if duplicate { Edit::Duplicate } else { Edit::Drop };
        sample.check_edit(at, &edit, true)?;
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes, true)?;
    }

    #[test]
    fn arbitrary_utf8(text in "\\PC{0,256}") {
        check(text.as_bytes(), true)?;
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn a_value_of_another_type_anywhere(
        sample in sample(),
        at in any::<Index>(),
        text in replacement(),
    ) {
        sample.check_edit(at, &Edit::Replace(text), true)?;
    }
}

/// JSON that is not an object; arrays of up to a dozen mostly short strings and nulls.
fn not_an_object() -> impl Strategy<Value = Value> {
    let element = prop_oneof![
        3 => "[ -~]{0,8}".prop_map(Value::String),
        1 => Just(Value::Null),
        1 => json(),
    ];
    prop_oneof![
        json().prop_filter("not an object", |v| !v.is_object()),
        prop::collection::vec(element, 0..12).prop_map(Value::Array),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Only an object can be an event from a service: any other JSON is a direct invocation.
    #[test]
    fn json_that_is_not_an_object_is_direct(value in not_an_object()) {
        let outcome = check(value.to_string().as_bytes(), true)?;
        prop_assert_eq!(outcome.source, EventSource::Direct);
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn deep_nesting_in_place_of_a_node(
        sample in sample(),
        at in any::<Index>(),
        depth in select(vec![200, 100_000]),
        object in any::<bool>(),
    ) {
        sample.check_edit(at, &Edit::Replace(nested(depth, object, "1", true)), true)?;
    }

    #[test]
    fn strings_blown_up(
        sample in sample(),
        at in any::<Index>(),
        unit in select(vec!["x", "é", "\n", "\""]),
        len in select(vec![MAX_VALUE_LEN - 1, MAX_VALUE_LEN + 1, 1 << 20]),
    ) {
        let pad = unit.repeat(len / unit.len());
        sample.check_edit(at, &Edit::Pad(pad), true)?;
    }
}
