//! Getting every span, log record and metric point of an invocation out before Lambda may
//! freeze the process.
//!
//! Spans and log records are kept in memory by [`InvocationSpanProcessor`] and
//! [`InvocationLogProcessor`]; metrics stay in the SDK's aggregators until a manual reader
//! collects them (no timer thread: a frozen process runs no timers). The layer drains the
//! buffers once per invocation and hands one batch to one export thread, which owns the
//! exporters and a small single-threaded Tokio runtime, collects the metrics, and exports the
//! three signals side by side, so:
//!
//! - the function's executor never blocks: the layer awaits a oneshot answer, which works on
//!   any runtime, `current_thread` included, and needs no timer from it;
//! - the flush is bounded: the export thread cancels an export at its deadline (the flush
//!   timeout, and never past the invocation's deadline), which also closes the connection of a
//!   collector that never answers;
//! - empty buffers cost an uncontended lock each: no thread hop, no allocation. Metrics are
//!   collected only when due: at the end of an invocation once the export interval
//!   (`OTEL_METRIC_EXPORT_INTERVAL`) has passed since the last collection, and at shutdown;
//!   with a zero interval, every invocation's flush has them to export.
//!
//! When no exporter waits on the network (`xray`'s UDP datagrams, `emf` and `console` lines
//! on stdout), there is no export thread at all: the same export runs inline, on the thread
//! that flushes, and completes in the call. A thread hand-off would cost more than the export.
//!
//! Once an OTLP/HTTP answer has announced the lambda-otel extension, the flush that ends an
//! invocation also tells it, from the export thread and within the same deadline, that the
//! invocation's telemetry is out, after every signal's export (`worker.rs`; the request itself
//! is `export::otlp::extension`'s).
//!
//! The deadline guard (see the layer's `finish.rs`) flushes an invocation that is about to time
//! out; its timer is an [`Alarm`] on this module's clock, a thread of its own, so the guard too
//! needs no timer from the function's runtime.
//!
//! Failures are logged through `tracing` at most once a minute, with a count of the rest;
//! every lost item is counted, whatever lost it (a full buffer, a failed, late or cut-off
//! export, a panicking exporter, a stopped export thread).
//!
//! May use `config` (the resolved settings, the signals), `attributes` (limits on values) and
//! `export` (the exporters behind [`export::boxed`](crate::export::boxed)'s object-safe traits,
//! and the lambda-otel extension's mark); never the set-up in `telemetry`, which builds the
//! flush, nor the middleware above it (`layer`, `invocation`), which calls it.

mod alarm;
mod batch;
mod buffer;
mod flusher;
mod job;
mod processor;
#[cfg(feature = "metrics")]
mod reader;
mod report;
#[cfg(test)]
mod testing;
mod worker;

pub(crate) use alarm::Alarm;
pub(crate) use buffer::Buffer;
pub(crate) use flusher::{Flusher, PendingFlush};
pub(crate) use job::Exporters;
#[cfg(feature = "metrics")]
pub(crate) use job::MetricsExport;
#[cfg(feature = "logs")]
pub(crate) use processor::InvocationLogProcessor;
pub(crate) use processor::InvocationSpanProcessor;
#[cfg(feature = "metrics")]
pub(crate) use reader::SharedReader;
/// Without the `metrics` feature there is no reader: no value of this type.
#[cfg(not(feature = "metrics"))]
pub(crate) type SharedReader = std::convert::Infallible;
#[cfg(test)]
pub(crate) use report::QUIET_PERIOD;
pub(crate) use report::{QuietPeriod, Reporter};
pub(crate) use worker::Worker;
