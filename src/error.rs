//! The crate's one error type.

use std::fmt;

/// Why telemetry could not be set up.
///
/// Only configuration and set-up return errors; once running, telemetry failures (an unreachable
/// collector, a slow export) are reported through `tracing` and never reach the handler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting has a value the crate does not accept.
    #[error("invalid value {value:?} for {variable}: expected {expected}")]
    InvalidSetting {
        /// The environment variable (or builder setting) that holds the value.
        variable: &'static str,
        /// The value as given.
        value: String,
        /// The accepted values, in words.
        expected: &'static str,
    },
    /// A setting names a feature this build does not include.
    #[error("{variable}={value} needs the `{feature}` cargo feature of lambda-otel")]
    FeatureDisabled {
        /// The environment variable (or builder setting) that asked for the feature.
        variable: &'static str,
        /// The value as given.
        value: String,
        /// The cargo feature to enable.
        feature: &'static str,
    },
    /// A header setting is malformed. The message names the variable and the header, never
    /// the value: headers carry credentials.
    #[error("invalid header {header} in {variable}: expected {expected} (the value is not shown)")]
    InvalidHeader {
        /// The environment variable (or builder setting) that holds the header.
        variable: &'static str,
        /// The header's name in backquotes, or its position (and the valid start of its name)
        /// when it has no valid name.
        header: String,
        /// What a header must be, in words.
        expected: &'static str,
    },
    /// The exporter could not be built.
    #[error("cannot build the {what} exporter: {message}")]
    Exporter {
        /// Which exporter.
        what: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The export thread could not be started.
    #[error("cannot start the telemetry export thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn invalid(
        variable: &'static str,
        value: impl fmt::Display,
        expected: &'static str,
    ) -> Self {
        Self::InvalidSetting {
            variable,
            value: value.to_string(),
            expected,
        }
    }
}
