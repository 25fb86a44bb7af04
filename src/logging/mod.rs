//! Logging: the log lines a function writes to stdout (Lambda's `Text` and `JSON` formats,
//! with the request id and the trace and span ids), the `tracing` subscriber that carries
//! `tracing` spans, events and `log` records into OpenTelemetry, and the span events of events
//! logged outside any `tracing` span. The lines and the span events read an event's fields
//! with the one collector in `fields.rs`, each applying its own rules.
//!
//! May use `config` (the log format, the default length limit), `attributes` (cutting a log
//! record's values to that limit) and libraries. The request id on every line comes from the
//! context the invocation attaches ([`RequestId`], defined here so that logging needs nothing
//! from the modules above it, its tests included).

mod fields;
mod records;
mod span_events;
mod stdout;
mod subscriber;

pub(crate) use records::Bridge;
pub(crate) use subscriber::install;

use opentelemetry::Context;
use std::sync::Arc;

/// The request id of the invocation whose code runs, a value of its context: the invocation
/// puts it there, the log lines read it.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) Arc<str>);

/// The request id of the invocation `cx` belongs to (its own context, or that of a span started
/// under it).
pub(crate) fn request_id(cx: &Context) -> Option<&str> {
    cx.get::<RequestId>().map(|id| &*id.0)
}
#[cfg(feature = "logs")]
pub use records::logs_layer;
pub use subscriber::otel_layer;
