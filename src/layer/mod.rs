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
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let telemetry = lambda_otel::Telemetry::from_env()?;
//!     let otel = telemetry.layer();
//!     Runtime::new(otel.wrap(service_fn(handler))).layer(otel).run().await
//! }
//! ```
//!
//! Order of events for one invocation:
//! 1. the runtime receives the event from `/next`; [`OtelService`] starts the span (cold start,
//!    X-Ray parent, trigger and HTTP attributes) and attaches it to the OpenTelemetry context;
//! 2. the handler runs; its `tracing` and OpenTelemetry spans are children of the invocation span;
//! 3. [`OtelHandler`] records the outcome (and in before-response mode ends the span and flushes);
//! 4. lambda_runtime posts the response (or the error) to the Runtime API;
//! 5. [`OtelService`] ends the span and, in after-response mode, flushes;
//! 6. only then does the runtime ask `/next` for the next event, when Lambda may freeze the process.

mod future;
mod handler;
#[cfg(feature = "lambda-http")]
mod http;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::{HandlerFuture, InvocationFuture};
pub use handler::OtelHandler;
pub use layer::OtelLayer;
pub(crate) use layer::Shared;
pub use service::OtelService;
