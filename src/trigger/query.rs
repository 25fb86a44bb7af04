//! `url.query` without credentials: the value of every sensitive key becomes `REDACTED`, as the
//! HTTP conventions ask.

use super::de::Params;

const REDACTED: &str = "REDACTED";

/// Whether `key` is one of the sensitive keys (stored lower-case), in any case.
fn is_sensitive(key: &str, sensitive: &[Box<str>]) -> bool {
    sensitive.iter().any(|s| s.eq_ignore_ascii_case(key))
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
