//! Getting every span of an invocation out before Lambda may freeze the process.
//!
//! Spans that end are kept in memory by [`InvocationSpanProcessor`] (no timer thread: a frozen
//! process runs no timers). The layer drains that buffer once per invocation and hands the batch
//! to one export thread, which owns the exporter and a small single-threaded Tokio runtime, so:
//!
//! - the function's executor never blocks: the layer awaits a oneshot answer, which works on
//!   any runtime, `current_thread` included, and needs no timer from it;
//! - the flush is bounded: the export thread cancels an export at its deadline (the flush
//!   timeout, and never past the invocation's deadline), which also closes the connection of a
//!   collector that never answers;
//! - an empty buffer costs one uncontended lock: no thread hop, no allocation.
//!
//! Failures are logged through `tracing` at most once a minute, with a count of the rest.

mod flusher;
mod processor;
mod report;
mod worker;

pub(crate) use flusher::{Flusher, PendingFlush};
pub(crate) use processor::{InvocationSpanProcessor, SpanBuffer};
pub(crate) use worker::Worker;
