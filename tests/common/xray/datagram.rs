//! The daemon's framing: the header line, the size limit and exactly one
//! JSON document without repeated keys, then the segment-document rules.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::checker::Checker;
use super::rules::{Problem, Rule, cut, problem};

/// The line every datagram starts with, newline included.
pub const HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";
/// The largest UDP payload over IPv4; X-Ray's own limit (64 kB) is above it.
pub const MAX_DATAGRAM: usize = 65_507;

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
