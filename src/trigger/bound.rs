//! Attribute values taken from an event are bounded: an event is caller-controlled input.

use opentelemetry::KeyValue;
use std::borrow::Cow;

/// The longest string value, in bytes, the wrapper records from an event.
pub const MAX_VALUE_LEN: usize = 1024;

/// `value`, cut at a character boundary to at most [`MAX_VALUE_LEN`] bytes.
pub(super) fn bounded(value: &str) -> String {
    crate::attributes::truncate(value, MAX_VALUE_LEN).to_owned()
}

/// `value`, cut at a character boundary to at most [`MAX_VALUE_LEN`] bytes, in place.
pub(super) fn bounded_owned(mut value: String) -> String {
    let len = crate::attributes::truncate(&value, MAX_VALUE_LEN).len();
    value.truncate(len);
    value
}

/// Pushes `key = value` when there is a non-empty value; a value in `known` is pushed as that
/// static string, without a copy.
pub(super) fn push_known(
    attributes: &mut Vec<KeyValue>,
    key: &'static str,
    value: Option<Cow<'_, str>>,
    known: &[&'static str],
) {
    match known.iter().find(|&&k| Some(k) == value.as_deref()) {
        Some(&k) => attributes.push(KeyValue::new(key, k)),
        None => push_str(attributes, key, value),
    }
}

/// Pushes `key = value` when there is a non-empty value.
pub(super) fn push_str(
    attributes: &mut Vec<KeyValue>,
    key: &'static str,
    value: Option<Cow<'_, str>>,
) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        attributes.push(KeyValue::new(key, bounded(&value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_at_a_char_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(MAX_VALUE_LEN);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_VALUE_LEN && cut.len() >= MAX_VALUE_LEN - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
