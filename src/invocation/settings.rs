//! What the span start needs from the configuration.

use crate::config::XraySampled;

/// Resolved once at set-up, shared by every invocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanSettings {
    pub xray_sampled: XraySampled,
    pub cold_start_possible: bool,
}
