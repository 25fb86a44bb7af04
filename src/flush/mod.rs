//! Getting every span, log record and metric point of an invocation out before Lambda may
//! freeze the process.
//!
//! Spans and log records are kept in memory by [`InvocationSpanProcessor`] and
//! [`InvocationLogProcessor`]; metrics stay in the SDK's aggregators until a manual reader
//! collects them (no timer thread: a frozen process runs no timers). The layer drains the
//! buffers once per invocation into one batch, collects the metrics when due, and exports the
//! three signals side by side, so:
//!
//! - the function's executor never blocks: an export is asynchronous (an HTTP request), or
//!   completes in the call (a UDP datagram, a line on stdout), and waits for nothing else;
//! - the flush is bounded: an export is cancelled at its deadline (the flush timeout, and
//!   never past the invocation's deadline), which also closes the connection of a collector
//!   that never answers;
//! - empty buffers cost an uncontended lock each: no allocation, no export. Metrics are
//!   collected only when due: at the end of an invocation once the export interval
//!   (`OTEL_METRIC_EXPORT_INTERVAL`) has passed since the last collection, and at shutdown;
//!   with a zero interval, every invocation's flush has them to export.
//!
//! Where the export runs (`worker.rs`):
//!
//! - **In the flush's own future, on the function's executor**, for OTLP/HTTP (and whatever
//!   else is configured beside it, but gRPC): the exporters' connections live on that
//!   executor, and the deadlines are kept by the process clock ([`clock`](crate::clock)), as
//!   the function's runtime may have no timer. No thread hand-off: on Lambda's one CPU, the
//!   hop to an export thread and back cost about 17 µs per invocation after the response and
//!   20 µs of CPU in the end-to-end benchmark.
//! - **On the export thread**, which owns the exporters too and a small single-threaded Tokio
//!   runtime: exports of a full buffer in the background during a long invocation, and the
//!   flush that follows them (it waits for them, and cuts them off when the process may
//!   freeze); the deadline guard's flush (the handler runs on beside it, and may block the
//!   executor's thread); every export over gRPC (tonic's channel is a task of that runtime);
//!   `force_flush` and shutdown, which block their caller. The layer awaits a oneshot answer.
//!   Its OTLP/HTTP connections are its own (`export::otlp`'s two pools).
//! - **Inline, in the call**, when no exporter waits on the network (`xray`'s UDP datagrams,
//!   `emf` and `console` lines on stdout): there is no export thread at all.
//!
//! Once an OTLP/HTTP answer has announced the lambda-otel extension, the flush that ends an
//! invocation also tells it, within the same deadline, that the invocation's telemetry is
//! out, after every signal's export (`worker.rs`; the request itself is
//! `export::otlp::extension`'s).
//!
//! Failures are logged through `tracing` at most once a minute, with a count of the rest;
//! every lost item is counted, whatever lost it (a full buffer, a failed, late or cut-off
//! export, a panicking exporter, a stopped export thread).
//!
//! May use `config` (the resolved settings, the signals), `attributes` (limits on values),
//! `clock` (deadlines on any executor) and `export` (the exporters behind
//! [`export::boxed`](crate::export::boxed)'s object-safe traits, and the lambda-otel
//! extension's mark); never the set-up in `telemetry`, which builds the flush, nor the
//! middleware above it (`layer`, `invocation`), which calls it.

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
pub(crate) use worker::{Worker, export_runtime};
