//! Exporters that print spans, metrics and log records as JSON lines.
//!
//! They are meant for local development: run the function under `cargo lambda watch`
//! with these exporters installed (`OTEL_TRACES_EXPORTER=console`,
//! `OTEL_METRICS_EXPORTER=console`, `OTEL_LOGS_EXPORTER=console`) and all telemetry
//! shows up in the terminal without a collector. Each item is one self-contained
//! JSON object on its own line, so the output can be piped through `jq` or `grep`.
//!
//! All three write to stdout unless given another writer (`with_writer`), write
//! each line with a single `write_all` so they do not interleave with other
//! output, and flush after every batch. Timestamps are RFC 3339 in UTC with
//! nanoseconds. Attribute values keep their type (strings, numbers, booleans,
//! arrays); non-finite floats have no JSON form and print as `null`. `resource`
//! is the resource's attributes sorted by key, `scope` the instrumentation scope's
//! name. After `shutdown`, an export is refused with an error.
//!
//! # Spans: [`ConsoleExporter`]
//!
//! ```text
//! {"name":"GET /roll","trace_id":"5b8aa5a2d2c872e8321cf37308d69df2","span_id":"051581bf3cb55c13","parent_span_id":null,"kind":"server","start_time":"2026-11-21T20:28:54.123456789Z","end_time":"2026-11-21T20:28:54.125956789Z","duration_ns":2500000,"status":{"code":"unset"},"attributes":{"http.request.method":"GET","http.response.status_code":200},"resource":{"service.name":"dice-roller"},"scope":"lambda-otel"}
//! ```
//!
//! Fields always appear in this order: `name`, `trace_id`, `span_id`,
//! `parent_span_id` (`null` for a root span), `kind`, `start_time`, `end_time`,
//! `duration_ns`, `status` (`message` only when non-empty), `attributes`, `events`
//! and `links` (both only when non-empty), `resource` and `scope`.
//!
//! # Metrics: [`ConsoleMetricExporter`]
//!
//! With the `metrics` feature.
//!
//! One line per metric and collection, with all its data points:
//!
//! ```text
//! {"name":"dice.rolls","description":"Dice rolled","unit":"{roll}","type":"sum","temporality":"cumulative","monotonic":true,"data_points":[{"attributes":{"dice.player":"ada"},"start_time":"2026-11-21T20:28:54.123456789Z","time":"2026-11-21T20:28:55.123456789Z","value":5}],"resource":{"service.name":"dice-roller"},"scope":"lambda-otel"}
//! {"name":"dice.roll_duration","description":"","unit":"ms","type":"histogram","temporality":"cumulative","data_points":[{"attributes":{"dice.player":"ada"},"start_time":"2026-11-21T20:28:54.123456789Z","time":"2026-11-21T20:28:55.123456789Z","count":4,"sum":22.5,"min":0.5,"max":12.0,"bounds":[1.0,5.0,10.0],"bucket_counts":[1,1,1,1]}],"resource":{"service.name":"dice-roller"},"scope":"lambda-otel"}
//! ```
//!
//! Fields: `name`, `description`, `unit`, `type` (`sum`, `gauge`, `histogram` or
//! `exponential_histogram`), `temporality` (`cumulative` or `delta`; not for
//! gauges), `monotonic` (sums only), `data_points`, `resource` and `scope`. A sum
//! or gauge point is `attributes`, `start_time` (when known), `time` and `value`;
//! a histogram point is `attributes`, `start_time`, `time`, `count`, `sum`, `min`
//! and `max` (when recorded), `bounds` and `bucket_counts` (one more count than
//! bounds: the last bucket is everything above the highest bound). Exponential
//! histogram points stop after `max`. Values keep their number type: integer
//! instruments print integers.
//!
//! # Logs: [`ConsoleLogExporter`]
//!
//! With the `logs` feature.
//!
//! ```text
//! {"timestamp":"2026-11-21T20:28:54.124000000Z","observed_timestamp":"2026-11-21T20:28:54.124001000Z","severity_text":"INFO","severity_number":9,"body":"rolled a 4","target":"dice_roller","trace_id":"5b8aa5a2d2c872e8321cf37308d69df2","span_id":"051581bf3cb55c13","attributes":{"dice.value":4},"resource":{"service.name":"dice-roller"},"scope":"lambda-otel"}
//! ```
//!
//! Fields, each only when the record has it: `timestamp`, `observed_timestamp`,
//! `severity_text`, `severity_number` (the OpenTelemetry number, e.g. 9 for INFO),
//! `body`, `event_name`, `target`, `trace_id` and `span_id` (from the span that was
//! current when the record was emitted); then always `attributes`, `resource` and
//! `scope`. The body and attribute values keep their type: strings, numbers,
//! booleans, bytes (as a lowercase hex string), lists (arrays) and maps (objects,
//! keys sorted).
//!
//! # Installing them
//!
//! ```
//! # #[cfg(all(feature = "metrics", feature = "logs"))] {
//! use lambda_otel::telemetry::console::{
//!     ConsoleExporter, ConsoleLogExporter, ConsoleMetricExporter,
//! };
//! use opentelemetry_sdk::logs::SdkLoggerProvider;
//! use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! let tracer_provider = SdkTracerProvider::builder()
//!     .with_simple_exporter(ConsoleExporter::new())
//!     .build();
//! let logger_provider = SdkLoggerProvider::builder()
//!     .with_simple_exporter(ConsoleLogExporter::new())
//!     .build();
//! let meter_provider = SdkMeterProvider::builder()
//!     .with_reader(PeriodicReader::builder(ConsoleMetricExporter::new()).build())
//!     .build();
//! # drop((tracer_provider, logger_provider, meter_provider));
//! # }
//! ```
//!
//! # How it is built
//!
//! `json.rs` holds what the three exporters share: the line writer (one `write_all` per line,
//! one flush per batch, nothing after shutdown), the JSON forms of attribute and log values,
//! and the timestamps. `spans.rs`, `metrics.rs` and `logs.rs` hold one exporter each, its line
//! a serde struct whose field order is the order on the line. That is nearly 900 lines rather
//! than 500, some 600 of them code: this page is the format's specification; the SDK hands the
//! three signals over through three traits and two value types (`Value` for spans and metrics,
//! `AnyValue` for logs), each printed with its type; metrics come in four shapes over three
//! number types, with two histogram point types that share no trait; and nothing in the default
//! build formats an arbitrary `SystemTime` as RFC 3339 with nanoseconds, so the calendar is
//! written out in `json.rs`.

mod json;
#[cfg(feature = "logs")]
mod logs;
#[cfg(feature = "metrics")]
mod metrics;
mod spans;
#[cfg(test)]
mod test_support;

#[cfg(feature = "logs")]
pub use logs::ConsoleLogExporter;
#[cfg(feature = "metrics")]
pub use metrics::ConsoleMetricExporter;
pub use spans::ConsoleExporter;
