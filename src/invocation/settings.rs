//! What the span start needs from the configuration.

use crate::config::{Propagator, XraySampled, env};
use crate::propagation::ExtractSettings;
use std::sync::Arc;

/// Resolved once at set-up, shared by every invocation.
#[derive(Debug, Clone)]
pub(crate) struct SpanSettings {
    pub xray_sampled: XraySampled,
    pub cold_start_possible: bool,
    /// `OTEL_PROPAGATORS`, in order: where the parent and the links come from.
    pub propagators: Arc<[Propagator]>,
    /// Query-string keys whose values `url.query` shows as `REDACTED`; lower-case.
    pub redacted_query_keys: Arc<[Box<str>]>,
    /// Whether the raw event is read for attributes and trace context.
    pub event_extraction: bool,
    /// Whether the span's trace id must be one X-Ray takes (the `xray` exporter): a parent
    /// with any other trace id becomes a link instead.
    pub xray_trace_ids: bool,
}

impl SpanSettings {
    /// What the parent's extraction reads.
    pub(crate) fn extraction(&self) -> ExtractSettings<'_> {
        ExtractSettings {
            propagators: &self.propagators,
            xray_sampled: self.xray_sampled,
            xray_trace_ids: self.xray_trace_ids,
        }
    }
}

/// The settings of an empty environment.
impl Default for SpanSettings {
    fn default() -> Self {
        Self {
            xray_sampled: XraySampled::default(),
            cold_start_possible: true,
            propagators: env::DEFAULT_PROPAGATORS.into(),
            redacted_query_keys: env::DEFAULT_REDACTED_QUERY_KEYS
                .iter()
                .map(|&key| Box::from(key))
                .collect(),
            event_extraction: true,
            xray_trace_ids: false,
        }
    }
}
