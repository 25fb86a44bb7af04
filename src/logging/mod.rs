//! Logging: the log lines a function writes to stdout (Lambda's `Text` and `JSON` formats,
//! with the request id and the trace and span ids), the `tracing` subscriber that carries
//! `tracing` spans, events and `log` records into OpenTelemetry, and the span events of events
//! logged outside any `tracing` span.
//!
//! May use `config` (the log format) and libraries; the one reach upwards is the request id,
//! read from the invocation's context (`invocation::request_id`).

mod span_events;
mod stdout;
mod subscriber;

pub(crate) use subscriber::install;
pub use subscriber::{logs_layer, otel_layer};
