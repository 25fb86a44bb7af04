//! The crate's one error type.

use std::fmt;

/// Why telemetry could not be set up.
///
/// Only configuration and set-up return errors; once running, telemetry failures (an unreachable
/// collector, a slow export) are reported through `tracing` and never reach the handler.
///
/// `Debug` writes the message, as `Display` does, then any cause `Display` leaves out: a
/// `main` returning `Result<(), lambda_runtime::Error>` prints `Error: ` and its `Debug`, so
/// `Telemetry::from_env()?` fails with `Error: invalid value "zipkin" for
/// OTEL_TRACES_EXPORTER: expected ...`. The alternate form (`{:#?}`) shows the variant and its
/// fields.
#[derive(thiserror::Error)]
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

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return self.fmt_fields(f);
        }
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            // `Thread` already ends its message with its cause: write each cause once.
            let cause_text = cause.to_string();
            if !message.contains(&cause_text) {
                message.push_str(": ");
                message.push_str(&cause_text);
            }
            source = cause.source();
        }
        f.write_str(&message)
    }
}

impl Error {
    /// The variant and its fields, as `#[derive(Debug)]` writes them.
    fn fmt_fields(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSetting {
                variable,
                value,
                expected,
            } => f
                .debug_struct("InvalidSetting")
                .field("variable", variable)
                .field("value", value)
                .field("expected", expected)
                .finish(),
            Self::FeatureDisabled {
                variable,
                value,
                feature,
            } => f
                .debug_struct("FeatureDisabled")
                .field("variable", variable)
                .field("value", value)
                .field("feature", feature)
                .finish(),
            Self::InvalidHeader {
                variable,
                header,
                expected,
            } => f
                .debug_struct("InvalidHeader")
                .field("variable", variable)
                .field("header", header)
                .field("expected", expected)
                .finish(),
            Self::Exporter { what, message } => f
                .debug_struct("Exporter")
                .field("what", what)
                .field("message", message)
                .finish(),
            Self::Thread(error) => f.debug_tuple("Thread").field(error).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cause that `Display` leaves out, with a cause of its own.
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer failure")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn debug_is_the_message_and_each_cause_once() {
        let invalid = Error::invalid("OTEL_TRACES_EXPORTER", "zipkin", "otlp or none");
        let message = r#"invalid value "zipkin" for OTEL_TRACES_EXPORTER: expected otlp or none"#;
        assert_eq!(format!("{invalid:?}"), message);
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(invalid);
        assert_eq!(format!("{boxed:?}"), message);

        // The message of `Thread` already holds its cause.
        let thread = Error::Thread(std::io::Error::other("no more threads"));
        assert_eq!(
            format!("{thread:?}"),
            "cannot start the telemetry export thread: no more threads"
        );
    }

    #[test]
    fn debug_appends_causes_the_message_leaves_out() {
        let inner = std::io::Error::other(Outer(std::io::Error::other("disk on fire")));
        let thread = Error::Thread(inner);
        // io::Error's `Display` of a custom error is the inner error's message; its cause
        // (`disk on fire`) is only reachable through `source`.
        assert_eq!(
            format!("{thread:?}"),
            "cannot start the telemetry export thread: outer failure: disk on fire"
        );
    }

    #[test]
    fn the_alternate_debug_shows_the_fields() {
        let invalid = Error::invalid("OTEL_TRACES_EXPORTER", "zipkin", "otlp or none");
        let fields = format!("{invalid:#?}");
        assert!(fields.starts_with("InvalidSetting {"), "{fields}");
        assert!(fields.contains(r#"value: "zipkin""#), "{fields}");
    }
}
