// The middleware (for users, the docs below): the layer and the state its services share
// (`LayerState`, layer.rs, built once by `telemetry` through `LayerState::new`), the two
// services and their futures, who ends the span and flushes (finish.rs), and the public face
// of the hooks. May use `invocation` (the span itself, and the hooks it calls, re-exported
// here), `flush`, `config`, `clock` (the deadline guard's alarm) and the ground modules; never
// `telemetry`, which builds the layer.

//! The middleware: [`OtelLayer`], the runtime-level [`OtelService`] and the handler-level
//! [`OtelHandler`].
//!
//! `lambda_runtime` runs each invocation as a stack of services. Layers given to
//! [`Runtime::layer`](lambda_runtime::Runtime::layer) wrap the whole invocation, including the
//! POST of the response; the handler sits at the bottom, under lambda_runtime's own services that
//! catch panics and post the response. The wrapper needs both places:
//!
//! | where | what it does |
//! |---|---|
//! | [`OtelService`] (`.layer(otel)`) | reads the raw event, starts the invocation span with its parent, attaches it while the invocation runs, ends it after the response is posted and flushes (after-response mode) |
//! | [`OtelHandler`] (`otel.wrap(handler)`) | records the outcome the runtime level cannot see: the response's status code, the handler's error, a panic; in before-response mode ends the span and flushes before the response is posted |
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
//! use serde_json::Value;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     Ok(event.payload)
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Error> {
//!     let telemetry = lambda_otel::Telemetry::from_env()?;
//!     let otel = telemetry.layer();
//!     Runtime::new(otel.wrap(service_fn(handler))).layer(otel).run().await
//! }
//! ```
//!
//! Order of events for one invocation:
//! 1. the runtime receives the event from `/next`; [`OtelService`] reads the event (see
//!    [`trigger`](crate::trigger)), takes the parent from its headers or Lambda's X-Ray header
//!    (see [`Propagator`](crate::config::Propagator)), links a batch's messages to their
//!    producers, calls the [`OnInvocation`] hook, starts the span and attaches it to the
//!    OpenTelemetry context;
//! 2. the handler runs; its `tracing` and OpenTelemetry spans are children of the invocation
//!    span, and its `tracing` events become log records (and stdout lines) with their ids;
//! 3. [`OtelHandler`] records the outcome, calls the [`OnResponse`] hook with a response (and
//!    in before-response mode ends the span, records the FaaS metrics and flushes);
//! 4. lambda_runtime posts the response (or the error) to the Runtime API;
//! 5. [`OtelService`] ends the span, records the FaaS metrics and, in after-response mode,
//!    flushes: the buffered spans and log records and the collected metrics, in one export
//!    step bounded by the flush timeout and the invocation's deadline;
//! 6. only then does the runtime ask `/next` for the next event, when Lambda may freeze the process.
//!
//! ## Near the deadline
//!
//! Lambda stops a handler that runs past the invocation's deadline, and with it the process:
//! steps 3 to 6 never come, and without a guard neither would the span. So while the handler
//! runs, [`OtelService`]'s future also watches the deadline: when the handler is still running
//! at the deadline minus the flush timeout and 50 ms, the invocation span ends with status
//! Error and `error.type=timeout` (counted in `faas.errors`), and everything buffered so far
//! (spans, log records, the metrics) is flushed at once, as at step 5: within the flush
//! timeout, ending at least 50 ms before the deadline, with the end-of-flush mark when the
//! lambda-otel extension is there (so the extension, which otherwise makes a span for a
//! timeout from Lambda's own record, does not make a second one).
//!
//! - The handler keeps running. If it answers after all, its response is posted as usual, but
//!   nothing more is recorded on the span (nor is the [`OnResponse`] hook called) and nothing
//!   more is flushed for it: what it records after the guard goes out with the next flush
//!   (the next invocation's, or the shutdown's).
//! - It is the handler that must still be running: once [`OtelHandler`] has seen it return,
//!   there is no guard (a response being posted is on its way). With `.layer(otel)` alone,
//!   the guard cannot see the handler return, and rings unless the invocation has ended.
//! - No guard when the invocation has no deadline, when the deadline is already inside the
//!   flush timeout at the start (a flush would not fit before it), when nothing is exported,
//!   or when switched off (`LAMBDA_OTEL_DEADLINE_GUARD=off`,
//!   [`TelemetryBuilder::with_deadline_guard`](crate::TelemetryBuilder::with_deadline_guard)):
//!   for a handler that works, by design, into its last moments and still answers in time,
//!   whose span would otherwise say timeout.
//! - The timer is not the Tokio runtime's (which may have none): one thread for the process
//!   wakes the invocation's task, which the layer already polls. No task is spawned; an
//!   invocation that ends in time pays for setting and removing one alarm (about 0.15 µs).
//!
//! ## With the lambda-otel extension
//!
//! The lambda-otel extension (the `layer/` crate of this repository) receives the function's
//! OTLP/HTTP exports on `localhost:4318` and forwards them. It answers every export it accepts
//! with the header `lambda-otel-extension: 1`; once an answer carried it, the flush that ends
//! each invocation (in either flush mode) sends one more request when every signal's export is
//! over, done or failed: `POST /lambda-otel/v1/invocations/{request id}/flushed`, empty body,
//! to the scheme, host and port that answered (the request id percent-encoded beyond
//! `[A-Za-z0-9-]`). The extension can then ask Lambda for its own next event at once, instead
//! of waiting for the Telemetry API's `platform.runtimeDone`, which reaches it 25 ms or more
//! after the runtime's `/next`: time Lambda bills.
//!
//! - Nothing to configure: the extension is found by its answers, once for the process. Only
//!   OTLP/HTTP finds it; over gRPC nothing is sent.
//! - The mark goes out on the keep-alive connection the export used: one loopback request per
//!   invocation, sent where the flush's export ran (the function's executor, which awaits it
//!   without blocking, or the export thread), within the same bound as the flush. An
//!   invocation with nothing to export is marked too.
//! - A mark that fails or is not answered in time costs no telemetry and fails nothing: the
//!   extension falls back on `platform.runtimeDone`, and a `lambda_otel` warning says so (at
//!   most one a minute, with the number of failed marks since the last).
//! - Without the extension, nothing is sent, and deciding so costs the flush one atomic load.

//! ## Hooks
//!
//! - [`OtelLayer::with_on_invocation`]: sees the raw event and the span about to start; adds
//!   attributes, renames the span, removes an attribute.
//! - [`OtelHandler::with_on_response`]: sees the handler's typed response and the span.
//! - A hook that panics does not fail the invocation: the panic is caught, the span starts
//!   (or ends) as if the hook had not run (what an `OnResponse` hook recorded before panicking
//!   stays), the handler's response still reaches Lambda, and a `lambda_otel` warning names the
//!   hook (at most one a minute, with the number of panics since the last one).
//! - Built-in extraction off: `LAMBDA_OTEL_EVENT_EXTRACTION=off` or
//!   [`TelemetryBuilder::with_event_extraction`](crate::TelemetryBuilder::with_event_extraction);
//!   every span is then `faas.trigger=other`, named after the function, and only the hooks
//!   read the event.

mod finish;
mod future;
mod handler;
#[cfg(feature = "lambda-http")]
mod http;
#[allow(clippy::module_inception)]
mod layer;
mod on_response;
mod service;

pub use crate::invocation::{OnInvocation, SpanStart};
pub use future::{HandlerFuture, InvocationFuture};
pub use handler::OtelHandler;
pub(crate) use layer::LayerState;
pub use layer::OtelLayer;
pub use on_response::OnResponse;
pub use service::OtelService;
