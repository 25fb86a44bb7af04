//! The log records' layer: `tracing` events (and `log` records) as OpenTelemetry log records,
//! through opentelemetry-appender-tracing. With the `logs` feature; without it, [`Bridge`] has
//! no value and the subscriber has no such layer.
//!
//! # Source location of log records
//!
//! Log records carry where the event was logged under the names spans use (tracing-opentelemetry
//! gives spans the same three): `code.file.path`, `code.line.number` and `code.module.name` (the
//! module path; the semantic conventions fold it into `code.function.name`, a function's full
//! name, which `tracing` does not know). opentelemetry-appender-tracing writes them under the
//! names the conventions have since deprecated (`code.filepath`, `code.lineno`,
//! `code.namespace`, and `code.filename`, which no convention has): [`logs_layer`]'s records are
//! made by a logger that renames them as they are added.

#[cfg(feature = "logs")]
mod bridge;

#[cfg(feature = "logs")]
pub(crate) use bridge::Bridge;
#[cfg(feature = "logs")]
pub use bridge::logs_layer;

/// Without the `logs` feature no log record is made: there is never a layer to add.
#[cfg(not(feature = "logs"))]
#[derive(Debug)]
pub(crate) enum Bridge {}

#[cfg(not(feature = "logs"))]
impl Bridge {
    pub(crate) fn layer(self, _filter: &str) -> tracing_subscriber::layer::Identity {
        match self {}
    }
}
