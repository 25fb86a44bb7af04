//! What the three console exporters share: the output sink, timestamps and values.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(feature = "logs")]
use opentelemetry::logs::AnyValue;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use serde::{Serialize, Serializer};

/// The constructors and `Default` of a console exporter, the same for all three;
/// the fields besides `writer` start as given.
macro_rules! console_constructors {
    ($exporter:ident { $($field:ident: $value:expr),* $(,)? }) => {
        impl $exporter {
            /// Creates an exporter that writes to the process's standard output.
            #[must_use]
            pub fn new() -> Self {
                Self::with_writer(std::io::stdout())
            }

            /// Creates an exporter that writes to `writer` instead of standard output.
            ///
            /// The writer is flushed after every exported batch.
            #[must_use]
            pub fn with_writer(writer: impl std::io::Write + Send + 'static) -> Self {
                Self {
                    writer: $crate::export::console::json::LineWriter::new(writer),
                    $($field: $value),*
                }
            }
        }

        impl Default for $exporter {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}
pub(super) use console_constructors;

/// The destination of an exporter's lines, and whether the exporter was shut down.
pub(super) struct LineWriter {
    writer: Mutex<Box<dyn Write + Send>>,
    is_shutdown: AtomicBool,
}

impl LineWriter {
    pub(super) fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            writer: Mutex::new(Box::new(writer)),
            is_shutdown: AtomicBool::new(false),
        }
    }

    /// Writes each item as one JSON line, then flushes once for the whole batch.
    pub(super) fn write_lines<T: Serialize>(
        &self,
        lines: impl IntoIterator<Item = T>,
    ) -> OTelSdkResult {
        if self.is_shutdown.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let mut writer = self.lock();
        for item in lines {
            let mut line = serde_json::to_vec(&item).map_err(|err| {
                OTelSdkError::InternalFailure(format!(
                    "console exporter: serialization failed: {err}"
                ))
            })?;
            line.push(b'\n');
            // One write_all per line: stdout's own lock then keeps lines from
            // concurrent writers (e.g. the handler's println!) from interleaving.
            writer.write_all(&line).map_err(io_failure)?;
        }
        writer.flush().map_err(io_failure)
    }

    pub(super) fn flush(&self) -> OTelSdkResult {
        self.lock().flush().map_err(io_failure)
    }

    /// Refuses every later batch; what was written so far is flushed.
    pub(super) fn shutdown(&self) -> OTelSdkResult {
        self.is_shutdown.store(true, Ordering::Relaxed);
        self.flush()
    }

    fn lock(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        // A poisoned lock means a writer panicked mid-line; carrying on costs at
        // most one garbled line, while refusing would drop every later batch.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for LineWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The writer itself is left out so that any `Write` can be used, Debug or not.
        f.debug_struct("LineWriter")
            .field("is_shutdown", &self.is_shutdown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn io_failure(err: io::Error) -> OTelSdkError {
    OTelSdkError::InternalFailure(format!("console exporter: write failed: {err}"))
}

/// Resource attributes sorted by key, because the SDK keeps them in a hash map
/// and a stable order makes consecutive lines easy to compare by eye.
pub(super) fn sorted_resource(resource: &Resource) -> Vec<KeyValue> {
    let mut attributes: Vec<KeyValue> = resource
        .iter()
        .map(|(key, value)| KeyValue::new(key.clone(), value.clone()))
        .collect();
    attributes.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    attributes
}

/// Serializes a `Display` value as a JSON string without an intermediate `String`:
/// trace and span ids (whose `Display` is fixed-width lowercase hex), byte strings.
pub(super) struct Displayed<T>(pub(super) T);

impl<T: fmt::Display> Serialize for Displayed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// Key-value pairs as a JSON object, in their original order.
pub(super) struct Attributes<'a>(pub(super) &'a [KeyValue]);

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        attribute_map(serializer, self.0.iter())
    }
}

/// The body of [`Attributes`], for data that hands out its pairs only as an iterator.
pub(super) fn attribute_map<'a, S: Serializer>(
    serializer: S,
    attributes: impl Iterator<Item = &'a KeyValue>,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(attributes.map(|kv| (kv.key.as_str(), AttributeValue(&kv.value))))
}

struct AttributeValue<'a>(&'a Value);

impl Serialize for AttributeValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json prints non-finite floats as `null`, the only JSON they can have.
        match self.0 {
            Value::Bool(v) => serializer.serialize_bool(*v),
            Value::I64(v) => serializer.serialize_i64(*v),
            Value::F64(v) => serializer.serialize_f64(*v),
            Value::String(v) => serializer.serialize_str(v.as_str()),
            Value::Array(Array::Bool(v)) => serializer.collect_seq(v),
            Value::Array(Array::I64(v)) => serializer.collect_seq(v),
            Value::Array(Array::F64(v)) => serializer.collect_seq(v),
            Value::Array(Array::String(v)) => {
                serializer.collect_seq(v.iter().map(StringValue::as_str))
            }
            // `Value` and `Array` are non-exhaustive: a variant added later still
            // prints, as its string form, instead of failing the export.
            other => serializer.collect_str(other),
        }
    }
}

/// A log body or log attribute value, keeping its type.
#[cfg(feature = "logs")]
pub(super) struct AnyJson<'a>(pub(super) &'a AnyValue);

#[cfg(feature = "logs")]
impl Serialize for AnyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AnyValue::Int(v) => serializer.serialize_i64(*v),
            AnyValue::Double(v) => serializer.serialize_f64(*v),
            AnyValue::String(v) => serializer.serialize_str(v.as_str()),
            AnyValue::Boolean(v) => serializer.serialize_bool(*v),
            // JSON has no bytes; lowercase hex reads the same in every tool.
            AnyValue::Bytes(v) => Displayed(Hex(v)).serialize(serializer),
            AnyValue::ListAny(v) => serializer.collect_seq(v.iter().map(AnyJson)),
            AnyValue::Map(map) => {
                // Keys sorted, since `HashMap` order changes from run to run.
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
                serializer.collect_map(entries.into_iter().map(|(k, v)| (k.as_str(), AnyJson(v))))
            }
            // Non-exhaustive, as above: a later variant prints in its Debug form.
            other => serializer.collect_str(&format_args!("{other:?}")),
        }
    }
}

#[cfg(feature = "logs")]
struct Hex<'a>(&'a [u8]);

#[cfg(feature = "logs")]
impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// A timestamp printed as RFC 3339 in UTC with nanoseconds,
/// e.g. `2026-11-21T20:28:54.123456789Z`.
///
/// The calendar is written out here (a dozen lines) because nothing in the default
/// build formats an arbitrary `SystemTime`: tracing-subscriber's `SystemTime` timer,
/// which the stdout log lines use, formats only "now", in microseconds, and `time`,
/// `chrono` and `humantime` are not in the dependency tree.
pub(super) struct Rfc3339(pub(super) SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, nanos) = unix_parts(self.0);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let second_of_day = secs.rem_euclid(86_400);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            second_of_day / 3_600,
            second_of_day % 3_600 / 60,
            second_of_day % 60,
        )
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Displayed(self).serialize(serializer)
    }
}

/// Whole seconds since the Unix epoch (floored, so negative before 1970) and the
/// nanoseconds past that second.
fn unix_parts(time: SystemTime) -> (i64, u32) {
    let nanos = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    let secs = i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or_default();
    (secs, subsec)
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>):
/// shifting the year to start on 1 March puts the leap day last, so every
/// 400-year era has the same layout and no table is needed.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[cfg(feature = "logs")]
    use serde_json::json;

    use super::super::test_support::{SAMPLE_NANOS, at, parse_rfc3339};
    use super::*;

    fn format(time: SystemTime) -> String {
        Rfc3339(time).to_string()
    }

    #[test]
    fn civil_from_days_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(951_782_400 / 86_400), (2000, 2, 29));
        assert_eq!(civil_from_days(951_782_400 / 86_400 + 1), (2000, 3, 1));
        assert_eq!(
            civil_from_days(SAMPLE_NANOS as i64 / 1_000_000_000 / 86_400),
            (2026, 11, 21)
        );
    }

    #[test]
    fn formats_rfc3339_with_nanoseconds() {
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format(at(951_782_400_000_000_000)),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(format(at(SAMPLE_NANOS)), "2026-11-21T20:28:54.123456789Z");
        assert_eq!(
            format(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59.500000000Z"
        );
    }

    #[test]
    fn timestamps_round_trip() {
        // Steps through leap days, century years and month ends.
        let mut nanos = 0_u64;
        while nanos < 4_102_444_800_000_000_000 {
            let time = at(nanos);
            assert_eq!(parse_rfc3339(&format(time)), time, "{}", format(time));
            nanos += 86_399_987_654_321 / 7;
        }
    }

    #[cfg(feature = "logs")]
    #[test]
    fn any_values_keep_their_type() {
        let nested: AnyValue = [
            ("z", AnyValue::from(1_i64)),
            ("a", AnyValue::from(f64::NAN)),
        ]
        .into_iter()
        .collect();
        let list = AnyValue::ListAny(Box::new(vec![
            AnyValue::from("s"),
            AnyValue::from(true),
            AnyValue::Bytes(Box::new(vec![0x00, 0xab, 0x10])),
            nested,
        ]));
        let printed = serde_json::to_value(AnyJson(&list)).expect("serializes");
        assert_eq!(printed, json!(["s", true, "00ab10", { "a": null, "z": 1 }]));
        let text = serde_json::to_string(&AnyJson(&list)).expect("serializes");
        assert!(
            text.ends_with(r#"{"a":null,"z":1}]"#),
            "sorted keys: {text}"
        );
    }
}
