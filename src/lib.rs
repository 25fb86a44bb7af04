//! # lambda-otel
//!
//! OpenTelemetry for AWS Lambda functions written in Rust: one span per invocation with the
//! FaaS semantic conventions for whatever invoked it (API Gateway, Function URLs, ALB, SQS, SNS,
//! Kinesis, DynamoDB Streams, S3, EventBridge, schedules, CloudWatch Logs), its parent from the
//! event's W3C headers or Lambda's X-Ray trace; the FaaS metrics (`faas.invocations`,
//! `faas.errors`, `faas.coldstarts`, `faas.invoke_duration`, `faas.init_duration`); `tracing`
//! events as log records and as stdout lines in Lambda's log format, both carrying the trace and
//! span ids. All three signals are flushed, together, before Lambda can freeze the process.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
//! use serde_json::Value;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     tracing::info!("handling");          // a log record and a stdout line, with the span's ids
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
//! See [`layer`] for what happens in which order and the hooks, [`trigger`] for what is read
//! from each kind of event, [`config`] for the settings (and [`config::Propagator`] for where
//! the parent comes from) and [`attributes`] for the crate's own span attributes. The README
//! has the full guide.

#![deny(unsafe_code)]
#![warn(unreachable_pub, missing_debug_implementations)]

#[doc(hidden)]
#[path = "bench.rs"]
pub mod __bench;
pub mod attributes;
mod clock;
pub mod config;
mod error;
mod export;
mod flush;
mod invocation;
pub mod layer;
mod logging;
mod propagation;
pub mod telemetry;
pub mod trigger;

pub use config::{Exporter, FlushMode, LogFormat, Propagator, Protocol, XraySampled};
pub use error::Error;
pub use layer::{OnInvocation, OnResponse, OtelHandler, OtelLayer, OtelService, SpanStart};
pub use telemetry::{Telemetry, TelemetryBuilder};
pub use trigger::EventSource;
