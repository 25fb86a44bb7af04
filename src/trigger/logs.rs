//! CloudWatch Logs subscriptions deliver their log group and stream inside a gzip-compressed,
//! base64-encoded document. With the `cloudwatch-logs` feature, the start of it is decoded to
//! record `aws.log.group.names` and `aws.log.stream.names`; without it, the span has the
//! trigger and kind only.

use opentelemetry::KeyValue;

/// The attributes from `data`, the delivery's `awslogs.data`.
#[cfg(feature = "cloudwatch-logs")]
pub(super) fn attributes(data: &str) -> Vec<KeyValue> {
    decode::attributes(data).unwrap_or_default()
}

/// The attributes from `data`, the delivery's `awslogs.data`: none without the feature.
#[cfg(not(feature = "cloudwatch-logs"))]
pub(super) fn attributes(_data: &str) -> Vec<KeyValue> {
    Vec::new()
}

#[cfg(feature = "cloudwatch-logs")]
mod decode {
    use super::super::bound::bounded;
    use base64::Engine as _;
    use flate2::read::GzDecoder;
    use opentelemetry::{KeyValue, StringValue, Value};
    use opentelemetry_semantic_conventions::attribute::{
        AWS_LOG_GROUP_NAMES, AWS_LOG_STREAM_NAMES,
    };
    use std::io::Read as _;

    /// The group and stream come first in the document: only this much base64 is decoded...
    const BASE64_PREFIX: usize = 2048;
    /// ...and only this much of the decompressed JSON is searched.
    const JSON_PREFIX: u64 = 2048;

    pub(super) fn attributes(data: &str) -> Option<Vec<KeyValue>> {
        let data = data.as_bytes();
        // Whole 4-character groups only, so the prefix decodes without padding errors.
        let cut = data.len().min(BASE64_PREFIX) / 4 * 4;
        let compressed = base64::engine::general_purpose::STANDARD
            .decode(&data[..cut])
            .ok()?;
        let mut json = Vec::with_capacity(JSON_PREFIX as usize);
        // A truncated stream ends in an error once the prefix runs out: keep what was read.
        let _ = GzDecoder::new(compressed.as_slice())
            .take(JSON_PREFIX)
            .read_to_end(&mut json);
        let json = std::str::from_utf8(&json).ok().or_else(|| {
            let valid = std::str::from_utf8(&json).err()?.valid_up_to();
            std::str::from_utf8(&json[..valid]).ok()
        })?;
        let mut attributes = Vec::with_capacity(2);
        for (field, key) in [
            ("logGroup", AWS_LOG_GROUP_NAMES),
            ("logStream", AWS_LOG_STREAM_NAMES),
        ] {
            if let Some(value) = string_field(json, field) {
                let value = Value::Array(vec![StringValue::from(bounded(value))].into());
                attributes.push(KeyValue::new(key, value));
            }
        }
        Some(attributes)
    }

    /// The value of `"field":"value"` in a possibly truncated JSON text (group and stream
    /// names never contain quotes or backslashes).
    fn string_field<'a>(json: &'a str, field: &str) -> Option<&'a str> {
        let at = json.find(&format!("\"{field}\""))? + field.len() + 2;
        let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
        let rest = rest.strip_prefix('"')?;
        let end = rest.find(['"', '\\'])?;
        Some(&rest[..end])
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn fields_from_a_truncated_document() {
            let json = r#"{"messageType":"DATA_MESSAGE","logGroup" : "/aws/lambda/x","logStream":"2026/11/01/[$LATEST]ab","logEv"#;
            assert_eq!(string_field(json, "logGroup"), Some("/aws/lambda/x"));
            assert_eq!(
                string_field(json, "logStream"),
                Some("2026/11/01/[$LATEST]ab")
            );
            assert_eq!(string_field(json, "owner"), None);
            assert_eq!(
                string_field(r#"{"logGroup":"unterminated"#, "logGroup"),
                None
            );
        }
    }
}
