//! The JSON reader of the event's one pass: a cursor over the event's text that reads the
//! values the probe asks for and skips every other one without building it.
//!
//! It accepts exactly the JSON of RFC 8259 (what `serde_json` accepts when it skips a value,
//! including its one leniency: a `\u` escape of a lone surrogate, which a string read here
//! gives as U+FFFD), at any depth, in one pass and without recursion when it skips; so text no JSON reader accepts is never read as
//! an event. Strings it returns are borrowed from the event when they have no escapes. The text
//! is checked to be UTF-8 once, before the reader starts.
//!
//! Why not serde: the probe's derived deserialisers were the largest functions of the crate
//! (27 and 19 KiB of code), and on the response path the event is read once per invocation,
//! with the CPU's caches and predictors cold from everything run since the last one; this
//! reader is a few KiB (README, "Where the time goes inside the process").

use std::borrow::Cow;

/// The text is not JSON: the event is then a direct invocation.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NotJson;

/// The result of a read.
pub(super) type Read<T> = Result<T, NotJson>;

/// A position in the event's text.
pub(super) struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    /// Skips whitespace and returns the next byte, not consumed.
    fn next(&mut self) -> Read<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(NotJson)
    }

    /// Consumes `byte`, after whitespace.
    fn expect(&mut self, byte: u8) -> Read<()> {
        if self.next()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// The end of the text: only whitespace may follow the event.
    pub(super) fn end(mut self) -> Read<()> {
        match self.next() {
            Err(NotJson) => Ok(()),
            Ok(_) => Err(NotJson),
        }
    }

    /// Reads an object, handing each member's key to `member`, which reads or skips its value.
    pub(super) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Read<()>,
    ) -> Read<()> {
        self.expect(b'{')?;
        if self.next()? == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            member(self, key)?;
            match self.next()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(NotJson),
            }
        }
    }

    /// Reads an array, calling `element` for each element, which reads or skips it.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Read<()>) -> Read<()> {
        self.expect(b'[')?;
        if self.next()? == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            match self.next()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(NotJson),
            }
        }
    }

    /// The first byte of the next value, not consumed.
    pub(super) fn peek(&mut self) -> Read<u8> {
        self.next()
    }

    /// An object's members read into a `T` by `member` (which reads or skips each value);
    /// `None` for any other value, skipped.
    pub(super) fn fields<T: Default>(
        &mut self,
        mut member: impl FnMut(&mut T, &mut Self, Cow<'a, str>) -> Read<()>,
    ) -> Read<Option<T>> {
        if !self.is_object()? {
            return Ok(None);
        }
        let mut value = T::default();
        self.object(|r, key| member(&mut value, r, key))?;
        Ok(Some(value))
    }

    /// An array's elements, each read by `element` (`None` leaves it out); `None` for any other
    /// value, skipped.
    pub(super) fn items<T>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Read<Option<T>>,
    ) -> Read<Option<Vec<T>>> {
        if !self.is_array()? {
            return Ok(None);
        }
        let mut out = Vec::new();
        self.array(|r| {
            out.extend(element(r)?);
            Ok(())
        })?;
        Ok(Some(out))
    }

    /// Whether the next value is an object (left to be read); any other value is skipped.
    fn is_object(&mut self) -> Read<bool> {
        self.is(b'{')
    }

    /// Whether the next value is an array (left to be read); any other value is skipped.
    fn is_array(&mut self) -> Read<bool> {
        self.is(b'[')
    }

    fn is(&mut self, open: u8) -> Read<bool> {
        if self.next()? == open {
            Ok(true)
        } else {
            self.skip().map(|()| false)
        }
    }

    /// Skips the next value and says whether it was anything but `null`.
    pub(super) fn present(&mut self) -> Read<bool> {
        let null = self.next()? == b'n';
        self.skip().map(|()| !null)
    }

    /// A string value; any other value is skipped and gives `None`.
    pub(super) fn opt_string(&mut self) -> Read<Option<Cow<'a, str>>> {
        if self.next()? == b'"' {
            self.string().map(Some)
        } else {
            self.skip().map(|()| None)
        }
    }

    /// A string, after whitespace.
    pub(super) fn string(&mut self) -> Read<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.pos;
        match self.scan()? {
            b'"' => {
                let s = self.text.get(start..self.pos).ok_or(NotJson)?;
                self.pos += 1;
                Ok(Cow::Borrowed(s))
            }
            _ => self.unescape(start).map(Cow::Owned),
        }
    }

    /// Moves to the string's next `"` or `\`; a control character is not JSON.
    fn scan(&mut self) -> Read<u8> {
        let bytes = self.text.as_bytes();
        // Eight bytes at a time while none of them is special (the usual case in an event:
        // header values, ARNs, ids), then byte by byte.
        while let Some(chunk) = bytes.get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes(chunk.try_into().map_err(|_| NotJson)?);
            let special = has_zero(word ^ (ONES * u64::from(b'"')))
                | has_zero(word ^ (ONES * u64::from(b'\\')))
                | has_less_than(word, 0x20);
            if special != 0 {
                // The lowest flagged byte is a true one (a false flag only follows a true one).
                self.pos += (special.trailing_zeros() / 8) as usize;
                break;
            }
            self.pos += 8;
        }
        loop {
            let b = *bytes.get(self.pos).ok_or(NotJson)?;
            match b {
                b'"' | b'\\' => return Ok(b),
                0..0x20 => return Err(NotJson),
                _ => self.pos += 1,
            }
        }
    }

    /// The rest of a string with escapes, from `start` (after the opening quote).
    fn unescape(&mut self, start: usize) -> Read<String> {
        let mut out = String::with_capacity(self.pos - start + 16);
        let mut from = start;
        loop {
            out.push_str(self.text.get(from..self.pos).ok_or(NotJson)?);
            if self.text.as_bytes()[self.pos] == b'"' {
                self.pos += 1;
                return Ok(out);
            }
            self.pos += 1;
            match self.escape()? {
                Escape::Char(c) => out.push(c),
                Escape::Unit(unit) => out.push(self.unicode(unit)?),
            }
            from = self.pos;
            self.scan()?;
        }
    }

    /// The character after a `\` (consumed).
    fn escape(&mut self) -> Read<Escape> {
        let b = *self.text.as_bytes().get(self.pos).ok_or(NotJson)?;
        self.pos += 1;
        Ok(Escape::Char(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.hex().map(Escape::Unit),
            _ => return Err(NotJson),
        }))
    }

    /// The four hex digits of a `\u` escape.
    fn hex(&mut self) -> Read<u16> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or(NotJson)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NotJson);
        }
        self.pos += 4;
        u16::from_str_radix(digits, 16).map_err(|_| NotJson)
    }

    /// The character of a `\u` escape, with the low half of a surrogate pair when it follows;
    /// a lone surrogate reads as U+FFFD.
    fn unicode(&mut self, unit: u16) -> Read<char> {
        if !(0xD800..0xDC00).contains(&unit) {
            return Ok(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos..self.pos + 2) == Some(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex()?;
            if (0xDC00..0xE000).contains(&low) {
                let c = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            // Not a low half: read it as an escape of its own.
            self.pos = save;
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    /// Skips a string, checking its escapes.
    fn skip_string(&mut self) -> Read<()> {
        self.expect(b'"')?;
        loop {
            if self.scan()? == b'"' {
                self.pos += 1;
                return Ok(());
            }
            self.pos += 1;
            self.escape()?;
        }
    }

    /// Skips the next value, whatever it holds, at any depth and without recursion.
    pub(super) fn skip(&mut self) -> Read<()> {
        let mut open = Nesting::default();
        loop {
            // A value.
            match self.next()? {
                b'{' => {
                    self.pos += 1;
                    if self.next()? == b'}' {
                        self.pos += 1;
                    } else {
                        open.push(true);
                        self.key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    if self.next()? == b']' {
                        self.pos += 1;
                    } else {
                        open.push(false);
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(NotJson),
            }
            // After it: the next member or element, or the end of the containers it ends.
            loop {
                let Some(object) = open.last() else {
                    return Ok(());
                };
                match self.next()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if object => {
                        self.pos += 1;
                        open.pop();
                    }
                    b']' if !object => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ => return Err(NotJson),
                }
            }
        }
    }

    /// A member's key and its colon, skipped.
    fn key(&mut self) -> Read<()> {
        self.skip_string()?;
        self.expect(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Read<()> {
        if self.text.as_bytes().get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; what may follow is checked by the caller.
    fn number(&mut self) -> Read<()> {
        let bytes = self.text.as_bytes();
        let at = |pos: usize| bytes.get(pos).copied().unwrap_or(0);
        if at(self.pos) == b'-' {
            self.pos += 1;
        }
        match at(self.pos) {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return Err(NotJson),
        }
        if at(self.pos) == b'.' {
            self.pos += 1;
            self.some_digits()?;
        }
        if matches!(at(self.pos), b'e' | b'E') {
            self.pos += 1;
            if matches!(at(self.pos), b'+' | b'-') {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        let bytes = self.text.as_bytes();
        while bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Read<()> {
        let start = self.pos;
        self.digits();
        if self.pos == start {
            Err(NotJson)
        } else {
            Ok(())
        }
    }
}

enum Escape {
    Char(char),
    Unit(u16),
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `word` (and maybe of bytes above one).
fn has_zero(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The high bit of each byte of `word` below `n` (`n` ≤ 128; and maybe of bytes above one).
fn has_less_than(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

/// The containers a skip is inside: whether each is an object. The first 64 levels are bits;
/// deeper ones (never in an event from a service) go to a vector.
#[derive(Default)]
struct Nesting {
    depth: usize,
    bits: u64,
    deeper: Vec<bool>,
}

impl Nesting {
    fn push(&mut self, object: bool) {
        if self.depth < 64 {
            self.bits = (self.bits & !(1 << self.depth)) | (u64::from(object) << self.depth);
        } else {
            self.deeper.push(object);
        }
        self.depth += 1;
    }

    fn last(&self) -> Option<bool> {
        match self.depth {
            0 => None,
            d @ 1..=64 => Some(self.bits & (1 << (d - 1)) != 0),
            _ => self.deeper.last().copied(),
        }
    }

    fn pop(&mut self) {
        self.depth -= 1;
        if self.depth >= 64 {
            self.deeper.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IgnoredAny;

    fn skips(text: &str) -> bool {
        let mut r = Reader::new(text);
        r.skip().is_ok() && r.end().is_ok()
    }

    fn read(text: &str) -> Read<Cow<'_, str>> {
        Reader::new(text).string()
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        assert!(
            matches!(read(r#""plain text, long enough to be read in words""#), Ok(Cow::Borrowed(s)) if s == "plain text, long enough to be read in words")
        );
        assert!(matches!(read(r#""é€😀""#), Ok(Cow::Borrowed("é€😀"))));
        let escaped = read(r#""a\"b\\c\/d\b\f\n\r\te\u00e9\u20AC\ud83d\ude00""#).expect("read");
        assert!(matches!(escaped, Cow::Owned(_)));
        assert_eq!(escaped, "a\"b\\c/d\u{8}\u{c}\n\r\teé€😀");
        // A lone surrogate, alone or before another escape.
        assert_eq!(read(r#""\ud800x""#).expect("read"), "\u{fffd}x");
        assert_eq!(read(r#""\ud800\n""#).expect("read"), "\u{fffd}\n");
        assert_eq!(read(r#""\ud800\u0041""#).expect("read"), "\u{fffd}A");
        assert_eq!(read(r#""\udc00""#).expect("read"), "\u{fffd}");
        for bad in [
            "\"open",
            "\"a\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"tab\there\"",
            "\"nl\nhere, past the first eight bytes\"",
            "'a'",
        ] {
            assert_eq!(read(bad), Err(NotJson), "{bad:?}");
        }
    }

    /// The reader accepts what serde_json accepts, and nothing else, on hand-picked texts.
    #[test]
    fn skips_exactly_json() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let deep_objects = "{\"a\":".repeat(70) + "1" + &"}".repeat(70);
        for text in [
            "{}",
            "[]",
            " { \"a\" : [ 1 , -2.5e+3 , true , false , null , \"x\" , { } , [ ] ] } ",
            "0",
            "-0",
            "1e400",
            "123456789012345678901234567890",
            "\"\\ud800\"",
            "[[[[1],[2,{\"a\":[3]}]]]]",
            &deep,
            &deep_objects,
            "{\"a\":1,\"a\":2}",
            // Not JSON.
            "",
            " ",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "[1,]",
            "[1 2]",
            "{1:2}",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "-",
            "tru",
            "nul",
            "NaN",
            "[}",
            "{]",
            "{} {}",
            "\u{feff}{}",
            "[\"\\u00\"]",
            "[\"a\u{1}\"]",
            &deep[1..],
        ] {
            let json = serde_json::from_str::<IgnoredAny>(text).is_ok();
            assert_eq!(skips(text), json, "{:?}", &text[..text.len().min(40)]);
        }
    }

    #[test]
    fn objects_and_arrays_hand_over_each_member() {
        let mut r = Reader::new(r#"{"a": [1, "x", null], "b\n": {"c": "d"}, "e": true}"#);
        let mut seen = Vec::new();
        r.object(|r, key| {
            match key.as_ref() {
                "a" => r.array(|r| {
                    let value = r.opt_string()?;
                    seen.push(format!("a[]={value:?}"));
                    Ok(())
                })?,
                "b\n" => assert!(r.is_object()?, "an object is left to read"),
                _ => assert!(!r.is_object()?),
            }
            if key == "b\n" {
                r.object(|r, key| {
                    seen.push(format!("{key}={:?}", r.opt_string()?));
                    Ok(())
                })?;
            }
            Ok(())
        })
        .expect("read");
        r.end().expect("read");
        assert_eq!(
            seen,
            ["a[]=None", "a[]=Some(\"x\")", "a[]=None", "c=Some(\"d\")"]
        );
    }

    #[test]
    fn present_is_anything_but_null() {
        for (text, present) in [("null", false), ("{}", true), ("0", true), ("\"\"", true)] {
            let mut r = Reader::new(text);
            assert_eq!(r.present(), Ok(present), "{text}");
            r.end().expect("read");
        }
    }
}
