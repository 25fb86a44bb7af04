//! A span exporter that prints every finished span as one line of JSON.
//!
//! It is meant for local development: run the function under `cargo lambda watch`
//! with [`ConsoleExporter`] installed and every span shows up in the terminal
//! without a collector. Each span is one self-contained JSON object on its own
//! line, so the output can be piped through `jq` or `grep`:
//!
//! ```text
//! {"name":"GET /roll","trace_id":"5b8aa5a2d2c872e8321cf37308d69df2","span_id":"051581bf3cb55c13","parent_span_id":null,"kind":"server","start_time":"2026-11-21T20:28:54.123456789Z","end_time":"2026-11-21T20:28:54.125956789Z","duration_ns":2500000,"status":{"code":"unset"},"attributes":{"http.request.method":"GET","http.response.status_code":200},"resource":{"service.name":"dice-roller"},"scope":"lambda-otel"}
//! ```
//!
//! Fields always appear in this order: `name`, `trace_id`, `span_id`,
//! `parent_span_id` (`null` for a root span), `kind`, `start_time`, `end_time`
//! (RFC 3339, UTC, nanoseconds), `duration_ns`, `status` (`message` only when
//! non-empty), `attributes`, `events` and `links` (both only when non-empty),
//! `resource` and `scope`. Attribute values keep their type: strings, numbers,
//! booleans and arrays. Non-finite floats have no JSON form and print as `null`.
//!
//! ```
//! use lambda_otel::telemetry::console::ConsoleExporter;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! let provider = SdkTracerProvider::builder()
//!     .with_simple_exporter(ConsoleExporter::new())
//!     .build();
//! # drop(provider);
//! ```

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{Event, Link, SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// A [`SpanExporter`] that writes each span as one JSON line, to stdout by default.
///
/// Install it with a simple (synchronous) span processor so spans appear as soon
/// as they end. See the [module docs](self) for the line format.
pub struct ConsoleExporter {
    writer: Mutex<Box<dyn Write + Send>>,
    /// Resource attributes sorted by key, because the SDK keeps them in a hash
    /// map and a stable order makes consecutive lines easy to compare by eye.
    resource: Vec<KeyValue>,
    is_shutdown: AtomicBool,
}

impl ConsoleExporter {
    /// Creates an exporter that writes to the process's standard output.
    #[must_use]
    pub fn new() -> Self {
        Self::with_writer(io::stdout())
    }

    /// Creates an exporter that writes to `writer` instead of standard output.
    ///
    /// The writer is flushed after every exported batch.
    #[must_use]
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            writer: Mutex::new(Box::new(writer)),
            resource: Vec::new(),
            is_shutdown: AtomicBool::new(false),
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        // A poisoned lock means a writer panicked mid-line; carrying on costs at
        // most one garbled line, while refusing would drop every later span.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_batch(&self, batch: &[SpanData]) -> OTelSdkResult {
        let mut writer = self.lock_writer();
        for span in batch {
            let line = render_line(span, &self.resource)?;
            // One write_all per line: stdout's own lock then keeps lines from
            // concurrent writers (e.g. the handler's println!) from interleaving.
            writer.write_all(&line).map_err(io_failure)?;
        }
        writer.flush().map_err(io_failure)
    }
}

impl Default for ConsoleExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("resource", &self.resource)
            .field("is_shutdown", &self.is_shutdown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let result = if self.is_shutdown.load(Ordering::Relaxed) {
            Err(OTelSdkError::AlreadyShutdown)
        } else {
            self.write_batch(&batch)
        };
        std::future::ready(result)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.is_shutdown.store(true, Ordering::Relaxed);
        self.lock_writer().flush().map_err(io_failure)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.lock_writer().flush().map_err(io_failure)
    }

    fn set_resource(&mut self, resource: &Resource) {
        let mut attributes: Vec<KeyValue> = resource
            .iter()
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone()))
            .collect();
        attributes.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        self.resource = attributes;
    }
}

fn io_failure(err: io::Error) -> OTelSdkError {
    OTelSdkError::InternalFailure(format!("console exporter: write failed: {err}"))
}

/// Serializes one span into a complete line, trailing newline included.
fn render_line(span: &SpanData, resource: &[KeyValue]) -> Result<Vec<u8>, OTelSdkError> {
    let mut line = serde_json::to_vec(&SpanLine::new(span, resource)).map_err(|err| {
        OTelSdkError::InternalFailure(format!("console exporter: serialization failed: {err}"))
    })?;
    line.push(b'\n');
    Ok(line)
}

/// The JSON shape of one span; field order here is the order on the line.
#[derive(Serialize)]
struct SpanLine<'a> {
    name: &'a str,
    trace_id: Displayed<TraceId>,
    span_id: Displayed<SpanId>,
    parent_span_id: Option<Displayed<SpanId>>,
    kind: &'static str,
    start_time: Rfc3339,
    end_time: Rfc3339,
    duration_ns: u64,
    status: StatusLine<'a>,
    attributes: Attributes<'a>,
    #[serde(skip_serializing_if = "Events::is_empty")]
    events: Events<'a>,
    #[serde(skip_serializing_if = "Links::is_empty")]
    links: Links<'a>,
    resource: Attributes<'a>,
    scope: &'a str,
}

impl<'a> SpanLine<'a> {
    fn new(span: &'a SpanData, resource: &'a [KeyValue]) -> Self {
        let context = &span.span_context;
        Self {
            name: &span.name,
            trace_id: Displayed(context.trace_id()),
            span_id: Displayed(context.span_id()),
            parent_span_id: (span.parent_span_id != SpanId::INVALID)
                .then_some(Displayed(span.parent_span_id)),
            kind: kind_name(&span.span_kind),
            start_time: Rfc3339(span.start_time),
            end_time: Rfc3339(span.end_time),
            duration_ns: duration_ns(span.start_time, span.end_time),
            status: StatusLine::new(&span.status),
            attributes: Attributes(&span.attributes),
            events: Events(&span.events),
            links: Links(&span.links),
            resource: Attributes(resource),
            scope: span.instrumentation_scope.name(),
        }
    }
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Internal => "internal",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

/// Wall clocks can step backwards between start and end; such a span reports 0
/// rather than failing the export.
fn duration_ns(start: SystemTime, end: SystemTime) -> u64 {
    let elapsed = end.duration_since(start).unwrap_or_default();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Serialize)]
struct StatusLine<'a> {
    code: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
}

impl<'a> StatusLine<'a> {
    fn new(status: &'a Status) -> Self {
        match status {
            Status::Unset => Self {
                code: "unset",
                message: "",
            },
            Status::Ok => Self {
                code: "ok",
                message: "",
            },
            Status::Error { description } => Self {
                code: "error",
                message: description,
            },
        }
    }
}

/// Serializes a `Display` value (trace and span ids, whose `Display` is
/// fixed-width lowercase hex) as a JSON string without an intermediate `String`.
struct Displayed<T>(T);

impl<T: fmt::Display> Serialize for Displayed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// Key-value pairs as a JSON object, in their original order.
struct Attributes<'a>(&'a [KeyValue]);

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            map.serialize_entry(kv.key.as_str(), &AttributeValue(&kv.value))?;
        }
        map.end()
    }
}

struct AttributeValue<'a>(&'a Value);

impl Serialize for AttributeValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
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

/// Span events as a JSON array of `{name, time, attributes}`.
struct Events<'a>(&'a [Event]);

impl Events<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Events<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|event| EventLine {
            name: &event.name,
            time: Rfc3339(event.timestamp),
            attributes: Attributes(&event.attributes),
        }))
    }
}

#[derive(Serialize)]
struct EventLine<'a> {
    name: &'a str,
    time: Rfc3339,
    attributes: Attributes<'a>,
}

/// Span links as a JSON array of `{trace_id, span_id, attributes}`.
struct Links<'a>(&'a [Link]);

impl Links<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Links<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|link| LinkLine {
            trace_id: Displayed(link.span_context.trace_id()),
            span_id: Displayed(link.span_context.span_id()),
            attributes: Attributes(&link.attributes),
        }))
    }
}

#[derive(Serialize)]
struct LinkLine<'a> {
    trace_id: Displayed<TraceId>,
    span_id: Displayed<SpanId>,
    attributes: Attributes<'a>,
}

/// A timestamp printed as RFC 3339 in UTC with nanoseconds,
/// e.g. `2026-11-21T20:28:54.123456789Z`.
struct Rfc3339(SystemTime);

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
        serializer.collect_str(self)
    }
}

/// Splits a time into whole seconds since the Unix epoch (floored, so negative
/// before 1970) and the nanoseconds past that second.
fn unix_parts(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            after.subsec_nanos(),
        ),
        Err(before) => {
            let before = before.duration();
            let secs = -i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_nanos() {
                0 => (secs, 0),
                nanos => (secs - 1, 1_000_000_000 - nanos),
            }
        }
    }
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
    use std::sync::Arc;

    use opentelemetry::trace::{
        SpanContext, TraceContextExt, TraceFlags, TraceState, Tracer, TracerProvider,
    };
    use opentelemetry::{Context, InstrumentationScope, trace::Span};
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanEvents, SpanLinks};
    use serde_json::{Value as Json, json};

    use super::*;

    /// 2026-11-21T20:28:54.123456789Z as nanoseconds since the Unix epoch.
    const SAMPLE_NANOS: u64 = 1_795_292_934_123_456_789;

    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl SharedBuf {
        fn lines(&self) -> Vec<Json> {
            let bytes = self.0.lock().expect("buffer lock").clone();
            let text = String::from_utf8(bytes).expect("utf-8 output");
            assert!(text.ends_with('\n'), "every line ends with a newline");
            text.lines()
                .map(|line| serde_json::from_str(line).expect("each line is JSON"))
                .collect()
        }
    }

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct FailingWriter;

    impl Write for FailingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
    }

    fn at(nanos: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    fn format(time: SystemTime) -> String {
        Rfc3339(time).to_string()
    }

    /// Inverse of `civil_from_days` (Hinnant's `days_from_civil`), used only to
    /// check that printed timestamps parse back to the same instant.
    fn parse_rfc3339(text: &str) -> SystemTime {
        let field = |range: std::ops::Range<usize>| -> i64 {
            text[range].parse().expect("numeric timestamp field")
        };
        assert_eq!(text.len(), 30, "fixed-width timestamp: {text}");
        assert!(text.ends_with('Z'));
        let (year, month, day) = (field(0..4), field(5..7), field(8..10));
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        let secs = days * 86_400 + field(11..13) * 3_600 + field(14..16) * 60 + field(17..19);
        let nanos = u32::try_from(field(20..29)).expect("nanos fit u32");
        let secs = u64::try_from(secs).expect("test times are after 1970");
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    fn ctx(trace: u128, span: u64) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    }

    fn span_data(name: &'static str) -> SpanData {
        SpanData {
            span_context: ctx(
                0x5b8a_a5a2_d2c8_72e8_321c_f373_08d6_9df2,
                0x0515_81bf_3cb5_5c13,
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: name.into(),
            start_time: at(SAMPLE_NANOS),
            end_time: at(SAMPLE_NANOS + 2_500_000),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("lambda-otel").build(),
        }
    }

    fn export_to_buf(exporter: &ConsoleExporter, batch: Vec<SpanData>) -> OTelSdkResult {
        poll_once(exporter.export(batch))
    }

    /// `export` resolves immediately, so polling once is enough.
    fn poll_once<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("console export never waits"),
        }
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

    #[test]
    fn line_has_fields_in_documented_order() {
        let buf = SharedBuf::default();
        let exporter = ConsoleExporter::with_writer(buf.clone());
        export_to_buf(&exporter, vec![span_data("GET /roll")]).expect("export succeeds");

        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(
            text,
            concat!(
                r#"{"name":"GET /roll","trace_id":"5b8aa5a2d2c872e8321cf37308d69df2","#,
                r#""span_id":"051581bf3cb55c13","parent_span_id":null,"kind":"server","#,
                r#""start_time":"2026-11-21T20:28:54.123456789Z","#,
                r#""end_time":"2026-11-21T20:28:54.125956789Z","duration_ns":2500000,"#,
                r#""status":{"code":"unset"},"attributes":{},"resource":{},"#,
                r#""scope":"lambda-otel"}"#,
                "\n",
            )
        );
    }

    #[test]
    fn one_line_per_span_in_a_batch() {
        let buf = SharedBuf::default();
        let exporter = ConsoleExporter::with_writer(buf.clone());
        let batch = vec![span_data("a"), span_data("b"), span_data("c")];
        export_to_buf(&exporter, batch).expect("export succeeds");

        let names: Vec<Json> = buf.lines().into_iter().map(|l| l["name"].clone()).collect();
        assert_eq!(names, [json!("a"), json!("b"), json!("c")]);
    }

    #[test]
    fn links_with_attributes_and_ok_status() {
        let buf = SharedBuf::default();
        let exporter = ConsoleExporter::with_writer(buf.clone());
        let mut span = span_data("consume");
        span.span_kind = SpanKind::Consumer;
        span.status = Status::Ok;
        span.links.links.push(Link::new(
            ctx(0xabc, 0xdef),
            vec![KeyValue::new("messaging.message.id", "m-1")],
            0,
        ));
        export_to_buf(&exporter, vec![span]).expect("export succeeds");

        let line = &buf.lines()[0];
        assert_eq!(line["kind"], "consumer");
        assert_eq!(line["status"], json!({ "code": "ok" }));
        assert!(line.get("events").is_none(), "empty events are omitted");
        assert_eq!(
            line["links"],
            json!([{
                "trace_id": "00000000000000000000000000000abc",
                "span_id": "0000000000000def",
                "attributes": { "messaging.message.id": "m-1" },
            }])
        );
    }

    #[test]
    fn backwards_clock_gives_zero_duration() {
        let mut span = span_data("skewed");
        span.end_time = span.start_time - Duration::from_millis(1);
        assert_eq!(SpanLine::new(&span, &[]).duration_ns, 0);
    }

    #[test]
    fn real_spans_through_a_tracer_provider() {
        let buf = SharedBuf::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(ConsoleExporter::with_writer(buf.clone()))
            .with_resource(
                Resource::builder_empty()
                    .with_service_name("dice-roller")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("lambda-otel-test");

        let root = tracer
            .span_builder("GET /roll")
            .with_kind(SpanKind::Server)
            .start(&tracer);
        let root_context = root.span_context().clone();
        let cx = Context::current_with_span(root);

        let mut child = tracer
            .span_builder("roll")
            .with_kind(SpanKind::Client)
            .start_with_context(&tracer, &cx);
        let child_context = child.span_context().clone();
        child.set_attribute(KeyValue::new("dice.sides", 6_i64));
        child.set_attribute(KeyValue::new("dice.player", "ada"));
        child.set_attribute(KeyValue::new("dice.fair", true));
        child.set_attribute(KeyValue::new("dice.weight", 0.25_f64));
        child.set_attribute(KeyValue::new(
            "dice.history",
            Value::Array(Array::I64(vec![3, 6, 1])),
        ));
        child.add_event("rolled", vec![KeyValue::new("dice.value", 4_i64)]);
        child.set_status(Status::error("table collapsed"));
        child.end();
        cx.span().end();
        provider.shutdown().expect("provider shuts down");

        let lines = buf.lines();
        assert_eq!(lines.len(), 2);
        let (child, root) = (&lines[0], &lines[1]);

        assert_eq!(root["name"], "GET /roll");
        assert_eq!(root["kind"], "server");
        assert_eq!(root["trace_id"], root_context.trace_id().to_string());
        assert_eq!(root["span_id"], root_context.span_id().to_string());
        assert_eq!(root["parent_span_id"], Json::Null);
        assert_eq!(root["status"], json!({ "code": "unset" }));
        assert_eq!(root["scope"], "lambda-otel-test");
        assert_eq!(root["resource"], json!({ "service.name": "dice-roller" }));

        assert_eq!(child["name"], "roll");
        assert_eq!(child["kind"], "client");
        assert_eq!(child["trace_id"], root["trace_id"]);
        assert_eq!(child["span_id"], child_context.span_id().to_string());
        assert_eq!(child["parent_span_id"], root["span_id"]);
        for id in ["trace_id", "span_id", "parent_span_id"] {
            let hex = child[id].as_str().expect("ids are strings");
            let width = if id == "trace_id" { 32 } else { 16 };
            assert_eq!(hex.len(), width, "{id} is {width} hex digits");
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_eq!(
            child["attributes"],
            json!({
                "dice.sides": 6,
                "dice.player": "ada",
                "dice.fair": true,
                "dice.weight": 0.25,
                "dice.history": [3, 6, 1],
            })
        );
        assert_eq!(
            child["status"],
            json!({ "code": "error", "message": "table collapsed" })
        );
        let events = child["events"].as_array().expect("events array");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["name"], "rolled");
        assert_eq!(events[0]["attributes"], json!({ "dice.value": 4 }));
        assert!(child.get("links").is_none(), "empty links are omitted");

        for line in [child, root] {
            let start = parse_rfc3339(line["start_time"].as_str().expect("start string"));
            let end = parse_rfc3339(line["end_time"].as_str().expect("end string"));
            let expected = end
                .duration_since(start)
                .expect("end after start")
                .as_nanos();
            assert_eq!(
                u128::from(line["duration_ns"].as_u64().expect("int")),
                expected
            );
        }
        let event_time = parse_rfc3339(events[0]["time"].as_str().expect("time string"));
        assert!(parse_rfc3339(child["start_time"].as_str().expect("start")) <= event_time);
    }

    #[test]
    fn failing_writer_is_an_error_not_a_panic() {
        let exporter = ConsoleExporter::with_writer(FailingWriter);
        let result = export_to_buf(&exporter, vec![span_data("lost")]);
        match result {
            Err(OTelSdkError::InternalFailure(message)) => assert!(message.contains("disk full")),
            other => panic!("expected InternalFailure, got {other:?}"),
        }
        assert!(exporter.force_flush().is_err());
    }

    #[test]
    fn export_after_shutdown_is_refused() {
        let buf = SharedBuf::default();
        let exporter = ConsoleExporter::with_writer(buf.clone());
        exporter.shutdown().expect("shutdown succeeds");
        let result = export_to_buf(&exporter, vec![span_data("late")]);
        assert!(matches!(result, Err(OTelSdkError::AlreadyShutdown)));
        assert!(buf.0.lock().expect("lock").is_empty());
    }

    #[test]
    fn debug_does_not_need_a_debug_writer() {
        let mut exporter = ConsoleExporter::with_writer(FailingWriter);
        exporter.set_resource(&Resource::builder_empty().with_service_name("svc").build());
        let debug = format!("{exporter:?}");
        assert!(debug.starts_with("ConsoleExporter"));
        assert!(debug.contains("svc"));
    }
}
