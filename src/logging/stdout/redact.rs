//! The `error` field of lambda_runtime's events without the text it quotes (see the parent
//! module's docs): serde's messages quote the event (`invalid type: string "hunter2", expected
//! u32`), and the `Debug` of the deserialization error shows the keys of its path.

use std::borrow::Cow;

/// What a quoted fragment reads as once replaced.
pub(super) const PLACEHOLDER: &str = "<redacted>";

/// `text` (an error's `Debug`, or its `Display`) with every quoted fragment replaced by
/// [`PLACEHOLDER`]:
///
/// - a string literal of the `Debug` (`"..."`, with its `\` escapes) becomes `"<redacted>"`,
///   unless it is the message of a serde_json error (`Error("...", line: 1, column: 9)`): the
///   message is kept with its own fragments replaced (see [`message`]);
/// - backquoted text outside any literal is replaced from the first backquote to the last.
///
/// What no quote marks stays: the error's structure, kinds, numbers, line and column. Text
/// that ends inside a fragment (a literal without its closing quote, a lone backquote) is
/// replaced up to its end.
pub(super) fn quoted_fragments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['"', '`']) {
        out.push_str(&rest[..at]);
        if rest[at..].starts_with('`') {
            // serde's backquotes do not escape what they quote: one fragment can hold more
            // backquotes, so everything up to the last one goes.
            out.push('`');
            out.push_str(PLACEHOLDER);
            out.push('`');
            rest = match rest.rfind('`') {
                Some(last) if last > at => &rest[last + 1..],
                _ => "",
            };
            continue;
        }
        let (content, after) = literal(&rest[at + 1..]);
        out.push('"');
        if out.ends_with("Error(\"") {
            out.push_str(&message(content));
        } else {
            out.push_str(PLACEHOLDER);
        }
        out.push('"');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Splits `text`, which follows the opening quote of a `Debug` string literal, into the
/// literal's content (still escaped) and what follows its closing quote (empty when the literal
/// does not end).
fn literal(text: &str) -> (&str, &str) {
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return (&text[..i], &text[i + 1..]),
            _ => {}
        }
    }
    (text, "")
}

/// A quote mark inside an escaped message: where it starts and ends, and how it is written.
#[derive(Clone, Copy)]
struct Mark {
    start: usize,
    end: usize,
    text: &'static str,
}

/// The escaped content of a serde_json message, with everything from its first quote mark
/// (`\"` or a backquote) to its last replaced by one placeholder fragment, quoted as the first
/// was: `invalid type: string \"hunter2\", expected u32` becomes `invalid type: string
/// \"<redacted>\", expected u32`. From the first to the last, not fragment by fragment: serde
/// writes a variant or a field name between backquotes as it is, backquotes included, so
/// pairing them up could leave part of the name outside. A lone mark is replaced to the end.
fn message(content: &str) -> Cow<'_, str> {
    let mut first: Option<Mark> = None;
    let mut last: Option<Mark> = None;
    let mut chars = content.char_indices();
    while let Some((i, c)) = chars.next() {
        let mark = match c {
            '\\' => match chars.next() {
                Some((j, '"')) => Mark {
                    start: i,
                    end: j + 1,
                    text: "\\\"",
                },
                _ => continue,
            },
            '`' => Mark {
                start: i,
                end: i + 1,
                text: "`",
            },
            _ => continue,
        };
        first.get_or_insert(mark);
        last = Some(mark);
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Cow::Borrowed(content);
    };
    let after = if last.start > first.start {
        &content[last.end..]
    } else {
        ""
    };
    let quote = first.text;
    Cow::Owned(format!(
        "{}{quote}{PLACEHOLDER}{quote}{after}",
        &content[..first.start]
    ))
}

#[cfg(test)]
mod tests {
    use super::quoted_fragments;

    #[test]
    fn the_serde_message_keeps_its_kind_line_and_column() {
        let debug = r#"DeserializeError { inner: Error { path: Path { segments: [Map { key: "count" }] }, original: Error("invalid type: string \"hunter2\", expected u32", line: 1, column: 25) } }"#;
        assert_eq!(
            quoted_fragments(debug),
            r#"DeserializeError { inner: Error { path: Path { segments: [Map { key: "<redacted>" }] }, original: Error("invalid type: string \"<redacted>\", expected u32", line: 1, column: 25) } }"#
        );
    }

    #[test]
    fn every_fragment_goes_whatever_it_holds() {
        let cases = [
            // A secret with quotes and backslashes: Debug of Debug.
            (
                r#"Error("invalid type: string \"a\\\"secret\\\\\", expected u32", line: 1, column: 9)"#,
                r#"Error("invalid type: string \"<redacted>\", expected u32", line: 1, column: 9)"#,
            ),
            // serde does not escape a variant: its backquotes cannot be paired up.
            (
                "Error(\"unknown variant `se`cr`et`, expected `a` or `b`\", line: 1, column: 9)",
                "Error(\"unknown variant `<redacted>`\", line: 1, column: 9)",
            ),
            (
                "Error(\"missing field `count`\", line: 1, column: 2)",
                "Error(\"missing field `<redacted>`\", line: 1, column: 2)",
            ),
            // Nothing quoted: nothing to replace.
            (
                "Error(\"expected value\", line: 1, column: 1)",
                "Error(\"expected value\", line: 1, column: 1)",
            ),
            // A `Display`: the quotes are the message's own.
            (
                "invalid type: string \"secret\", expected u32 at line 1 column 9",
                "invalid type: string \"<redacted>\", expected u32 at line 1 column 9",
            ),
            (
                "unknown field `se`cret`, expected `count` at line 1 column 9",
                "unknown field `<redacted>` at line 1 column 9",
            ),
            // Cut short inside a fragment.
            ("Custom { error: \"secret", "Custom { error: \"<redacted>\""),
            ("lone `secret", "lone `<redacted>`"),
            (
                "Error(\"lone \\\"secret\", line: 1, column: 2)",
                "Error(\"lone \\\"<redacted>\\\"\", line: 1, column: 2)",
            ),
            ("Error(\"cut \\\"sec", "Error(\"cut \\\"<redacted>\\\"\""),
        ];
        for (text, expected) in cases {
            let redacted = quoted_fragments(text);
            assert_eq!(redacted, expected, "{text}");
            assert!(!redacted.contains("sec"), "{redacted}");
        }
    }
}
