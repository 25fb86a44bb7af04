//! `url.query` without credentials: the value of every sensitive key becomes `REDACTED`, as the
//! HTTP conventions ask.
//!
//! Keys are compared as the function's HTTP library reads them: percent-decoded, `+` as a
//! space, in any case, so `%73ig=`, `Sig=` and `si%67=` are all `sig`. The recorded query keeps
//! each key as the client wrote it.

use super::de::Params;

const REDACTED: &str = "REDACTED";

/// Whether `key`, decoded, is one of the sensitive keys, in any case.
fn is_sensitive(key: &str, sensitive: &[Box<str>]) -> bool {
    sensitive.iter().any(|s| decodes_to(key, s))
}

/// Whether `raw` percent-decodes (`+` as a space) to `name`, ignoring ASCII case. An escape
/// shortens the key by two bytes, so lengths outside `name..=3 * name` cannot match.
fn decodes_to(raw: &str, name: &str) -> bool {
    if raw.len() < name.len() || raw.len() > 3 * name.len() {
        return false;
    }
    Decoded(raw.as_bytes().iter())
        .map(|b| b.to_ascii_lowercase())
        .eq(name.bytes().map(|b| b.to_ascii_lowercase()))
}

/// The bytes of a query key as `application/x-www-form-urlencoded` decodes them: `%XX` is the
/// byte `XX`, `+` a space; a `%` not followed by two hex digits stays as it is.
struct Decoded<'a>(std::slice::Iter<'a, u8>);

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        Some(match *self.0.next()? {
            b'+' => b' ',
            b'%' => {
                let rest = self.0.as_slice();
                match (hex(rest.first()), hex(rest.get(1))) {
                    (Some(high), Some(low)) => {
                        self.0.nth(1);
                        high << 4 | low
                    }
                    _ => b'%',
                }
            }
            b => b,
        })
    }
}

fn hex(digit: Option<&u8>) -> Option<u8> {
    char::from(*digit?)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// A raw query string (`a=1&sig=x`), with sensitive values redacted.
pub(super) fn redact_raw(query: &str, sensitive: &[Box<str>]) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if is_sensitive(key, sensitive) => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    out
}

/// The query string of a REST API or ALB event, rebuilt from its parameter map in event order,
/// with sensitive values redacted.
pub(super) fn redact_params(params: &Params<'_>, sensitive: &[Box<str>]) -> String {
    let mut out = String::new();
    for (key, values) in &params.0 {
        let secret = is_sensitive(key, sensitive);
        for value in values {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(key);
            out.push('=');
            out.push_str(if secret { REDACTED } else { value });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn keys() -> Vec<Box<str>> {
        vec!["sig".into(), "access_token".into()]
    }

    #[test]
    fn raw_query_values_of_sensitive_keys_are_redacted() {
        assert_eq!(
            redact_raw("a=1&SIG=abc&b&access_token=t%3D&c=", &keys()),
            "a=1&SIG=REDACTED&b&access_token=REDACTED&c="
        );
        assert_eq!(redact_raw("plain=1", &keys()), "plain=1");
        assert_eq!(redact_raw("sig=1", &[]), "sig=1");
    }

    #[test]
    fn keys_are_compared_percent_decoded_in_any_case() {
        assert_eq!(
            redact_raw(
                "%73ig=a&Sig=b&si%67=c&%53%49%47=d&access%5Ftoken=e&x=1",
                &keys()
            ),
            "%73ig=REDACTED&Sig=REDACTED&si%67=REDACTED&%53%49%47=REDACTED\
             &access%5Ftoken=REDACTED&x=1",
            "each key is recorded as the client wrote it"
        );
        let spaced = ["api key".into()];
        assert_eq!(
            redact_raw("api+key=a&api%20key=b&api_key=c", &spaced),
            "api+key=REDACTED&api%20key=REDACTED&api_key=c"
        );
        // Not escapes: `%` alone, a half escape, non-hex digits; an escape decoded twice is
        // another key (servers decode once).
        for raw in [
            "%sig=1",
            "sig%=1",
            "si%6=1",
            "si%zz=1",
            "%2573ig=1",
            "sigg=1",
            "si=1",
        ] {
            assert_eq!(redact_raw(raw, &keys()), raw);
        }
    }

    #[test]
    fn parameter_map_keys_are_compared_decoded_too() {
        let params = Params(vec![
            (Cow::Borrowed("%73ig"), vec![Cow::Borrowed("s3cr3t")]),
            (Cow::Borrowed("ACCESS_TOKEN"), vec![Cow::Borrowed("s3cr3t")]),
            (Cow::Borrowed("q"), vec![Cow::Borrowed("%73ig")]),
        ]);
        assert_eq!(
            redact_params(&params, &keys()),
            "%73ig=REDACTED&ACCESS_TOKEN=REDACTED&q=%73ig"
        );
    }

    #[test]
    fn parameter_maps_are_rebuilt_in_order() {
        let params = Params(vec![
            (Cow::Borrowed("verbose"), vec![Cow::Borrowed("true")]),
            (
                Cow::Borrowed("access_token"),
                vec![Cow::Borrowed("s3cr3t"), Cow::Borrowed("again")],
            ),
            (
                Cow::Borrowed("tag"),
                vec![Cow::Borrowed("a"), Cow::Borrowed("b")],
            ),
        ]);
        assert_eq!(
            redact_params(&params, &keys()),
            "verbose=true&access_token=REDACTED&access_token=REDACTED&tag=a&tag=b"
        );
    }
}
