//! How an invocation ended, as the span records it.

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanRef, Status};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_RESPONSE_STATUS_CODE,
};
use std::any::Any;
use std::time::Duration;

/// The end of a handler call.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// A response; its HTTP status code when it has one.
    Response(Option<i64>),
    /// The handler returned an error (as lambda_runtime reports it to Lambda).
    Error {
        error_type: &'a str,
        message: &'a str,
    },
    /// The handler panicked.
    Panic { message: &'a str },
    /// The handler was still running this close to the invocation's deadline (the deadline
    /// guard's bound): Lambda is about to end the invocation as timed out.
    Timeout { left: Duration },
}

/// `error.type` of a timed-out invocation: the status of Lambda's own record
/// (`platform.runtimeDone`), as the lambda-otel extension's span for one has it.
const TIMEOUT: &str = "timeout";

impl Outcome<'_> {
    /// An error, a panic or a timeout: what Lambda counts as a failed invocation. A 5xx
    /// response is an error of the span (HTTP conventions) but a successful invocation.
    pub(crate) fn is_failure(&self) -> bool {
        !matches!(self, Self::Response(_))
    }

    pub(crate) fn record(&self, span: &SpanRef<'_>) {
        match *self {
            Self::Response(None) => {}
            Self::Response(Some(code)) => {
                span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, code));
                // Only the server's own failures are span errors: a 4xx is the caller's.
                if code >= 500 {
                    span.set_attribute(KeyValue::new(ERROR_TYPE, code.to_string()));
                    span.set_status(Status::error(""));
                }
            }
            Self::Error {
                error_type,
                message,
            } => record_exception(span, error_type, message),
            Self::Panic { message } => record_exception(span, "panic", message),
            // Not an exception: nothing was thrown, the time ran out.
            Self::Timeout { left } => {
                span.set_attribute(KeyValue::new(ERROR_TYPE, TIMEOUT));
                span.set_status(Status::error(format!(
                    "the handler was still running {} ms before the invocation's deadline",
                    left.as_millis()
                )));
            }
        }
    }
}

/// The longest error type or message, in bytes, the span records: an error can quote its
/// input (a whole request body, say), and a span has to fit in an export.
const MAX_MESSAGE_LEN: usize = 1024;

/// `text`, cut at a character boundary to at most [`MAX_MESSAGE_LEN`] bytes.
fn bounded(text: &str) -> String {
    crate::attributes::truncate(text, MAX_MESSAGE_LEN).to_owned()
}

fn record_exception(span: &SpanRef<'_>, error_type: &str, message: &str) {
    let (error_type, message) = (bounded(error_type), bounded(message));
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
    span.add_event(
        "exception",
        vec![
            KeyValue::new(EXCEPTION_TYPE, error_type),
            KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
        ],
    );
    span.set_status(Status::error(message));
}

/// The message of a panic payload (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("the handler panicked")
}

/// The HTTP status code of a handler's response, for the response types that carry one.
pub(crate) fn status_code(response: &dyn Any) -> Option<i64> {
    if let Some(value) = response.downcast_ref::<serde_json::Value>() {
        return value.get("statusCode").and_then(serde_json::Value::as_i64);
    }
    #[cfg(feature = "lambda-http")]
    if let Some(response) = response.downcast_ref::<lambda_http::Response<lambda_http::Body>>() {
        return Some(i64::from(response.status().as_u16()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_json_responses() {
        let ok = serde_json::json!({"statusCode": 404, "body": "{}"});
        assert_eq!(status_code(&ok), Some(404));
        assert_eq!(status_code(&serde_json::json!({"ok": true})), None);
        assert_eq!(status_code(&"a string"), None);
    }

    #[test]
    fn error_texts_are_cut_at_a_char_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(MAX_MESSAGE_LEN);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_MESSAGE_LEN && cut.len() >= MAX_MESSAGE_LEN - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn panic_messages() {
        let owned: Box<dyn Any + Send> = Box::new(String::from("boom"));
        assert_eq!(panic_message(owned.as_ref()), "boom");
        let other: Box<dyn Any + Send> = Box::new(42);
        assert_eq!(panic_message(other.as_ref()), "the handler panicked");
    }
}
