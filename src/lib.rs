//! # lambda-otel
//!
//! OpenTelemetry for AWS Lambda functions written in Rust: one span per invocation with the
//! FaaS semantic conventions, joined to Lambda's X-Ray trace, flushed before Lambda can freeze
//! the process.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
//! use serde_json::Value;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     tracing::info!("handling");          // an event on the invocation span
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
//! See [`layer`] for what happens in which order, [`config`] for the settings and
//! [`attributes`] for the crate's own span attributes. The README has the full guide.

pub mod attributes;
pub mod config;
mod error;
mod flush;
mod invocation;
mod propagation;
pub mod trigger;
pub mod layer;
pub mod telemetry;

pub use config::{FlushMode, Protocol, TracesExporter, XraySampled};
pub use error::Error;
pub use layer::{OtelHandler, OtelLayer, OtelService};
pub use telemetry::{Telemetry, TelemetryBuilder};
