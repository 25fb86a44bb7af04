//! The limits that bound memory: how many spans and log records wait for export, and how long
//! a string attribute value may be.

use crate::Error;
use crate::config::env;
use crate::config::parse;
use crate::config::precedence::{Env, Setting};

/// A queue's builder method (with its variable, as errors name it) and its variable.
pub(super) struct Queue {
    setter: &'static str,
    var: &'static str,
}

pub(super) const SPAN_QUEUE: Queue = Queue {
    setter: "TelemetryBuilder::with_span_queue_size (OTEL_BSP_MAX_QUEUE_SIZE)",
    var: env::OTEL_BSP_MAX_QUEUE_SIZE,
};
#[cfg(feature = "logs")]
pub(super) const LOG_QUEUE: Queue = Queue {
    setter: "TelemetryBuilder::with_log_queue_size (OTEL_BLRP_MAX_QUEUE_SIZE)",
    var: env::OTEL_BLRP_MAX_QUEUE_SIZE,
};

pub(super) fn queue_size(code: Option<usize>, queue: &Queue, env: Env<'_>) -> Result<usize, Error> {
    env.resolve(Setting {
        code,
        setter: queue.setter,
        check: parse::queue_size_in_code,
        vars: &[queue.var],
        parse: parse::queue_size,
        default: env::DEFAULT_MAX_QUEUE_SIZE,
    })
}

/// A length limit: the one set in code for both signals, else `signal_var`, else the generic
/// variable, else the default.
pub(super) fn length_limit(
    code: Option<usize>,
    signal_var: &'static str,
    env: Env<'_>,
) -> Result<usize, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_attribute_value_length_limit \
                 (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT)",
        check: parse::length_limit_in_code,
        vars: &[signal_var, env::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT],
        parse: parse::length_limit,
        default: env::DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    })
}
