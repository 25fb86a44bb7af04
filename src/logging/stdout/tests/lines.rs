//! Reading back what the layer wrote: a shared buffer, and parsers for both formats.

use serde_json::Value as Json;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::fmt::MakeWriter;

/// Collects what the layer writes, shared with the test that reads it back.
#[derive(Clone, Default)]
pub(super) struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    pub(super) fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let text = String::from_utf8(bytes.clone()).expect("log lines are UTF-8");
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "unterminated line: {text:?}"
        );
        text.lines().map(str::to_owned).collect()
    }
}

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

/// A parsed JSON line, with its keys in the order written (serde_json's `Map` sorts them).
#[derive(Debug)]
pub(super) struct JsonLine {
    pub(super) keys: Vec<String>,
    pub(super) object: serde_json::Map<String, Json>,
}

impl std::ops::Index<&str> for JsonLine {
    type Output = Json;

    fn index(&self, key: &str) -> &Json {
        self.object.get(key).unwrap_or(&Json::Null)
    }
}

pub(super) fn json(lines: &[String]) -> Vec<JsonLine> {
    lines
        .iter()
        .map(|line| {
            let Ordered(entries) = serde_json::from_str(line).expect("a JSON object");
            let keys = entries.iter().map(|(k, _)| k.clone()).collect();
            let mut object = serde_json::Map::new();
            for (key, value) in entries {
                assert!(object.insert(key, value).is_none(), "duplicate key: {line}");
            }
            JsonLine { keys, object }
        })
        .collect()
}

/// A JSON object's entries in their order.
struct Ordered(Vec<(String, Json)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A Text line's four tab-separated columns, the last split into message words and fields.
pub(super) struct TextLine {
    pub(super) timestamp: String,
    pub(super) request_id: String,
    pub(super) level: String,
    pub(super) words: Vec<String>,
    pub(super) fields: Vec<(String, String)>,
}

pub(super) fn text(line: &str) -> TextLine {
    let columns: Vec<&str> = line.split('\t').collect();
    let [timestamp, request_id, level, rest] = columns[..] else {
        panic!("not four tab-separated columns: {line:?}");
    };
    let (mut words, mut fields) = (Vec::new(), Vec::new());
    for token in tokens(rest) {
        // A quoted token is a message, whatever it holds.
        match token.split_once('=').filter(|_| !token.starts_with('"')) {
            Some((key, value)) => fields.push((key.to_owned(), unquote(value))),
            None => words.push(token),
        }
    }
    TextLine {
        timestamp: timestamp.to_owned(),
        request_id: request_id.to_owned(),
        level: level.to_owned(),
        words,
        fields,
    }
}

/// Splits on spaces outside `"…"` (a `\` escapes the next character inside quotes).
fn tokens(s: &str) -> Vec<String> {
    let (mut out, mut current, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                out.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.extend((!current.is_empty()).then_some(current));
    out
}

fn unquote(value: &str) -> String {
    if value.starts_with('"') {
        // A Rust `{:?}` string is a JSON string for what these tests write.
        serde_json::from_str(value).expect("a quoted value")
    } else {
        value.to_owned()
    }
}

pub(super) fn assert_timestamp(timestamp: &str) {
    // RFC 3339, UTC, microseconds: 2026-11-21T10:00:00.123456Z
    let b = timestamp.as_bytes();
    assert_eq!(b.len(), 27, "{timestamp}");
    assert_eq!(
        (b[4], b[7], b[10], b[13], b[16], b[19], b[26]),
        (b'-', b'-', b'T', b':', b':', b'.', b'Z')
    );
    assert!(
        timestamp[20..26].bytes().all(|c| c.is_ascii_digit()),
        "{timestamp}"
    );
}
