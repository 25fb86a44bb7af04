//! Settings: what can be configured, where each value comes from, and how it is checked.
//!
//! Precedence, the same for every setting: a value set in code on
//! [`TelemetryBuilder`](crate::TelemetryBuilder) > the signal-specific environment variable
//! (`OTEL_EXPORTER_OTLP_TRACES_*`) > the generic one (`OTEL_EXPORTER_OTLP_*`) > the default.
//! An empty variable counts as unset. A value that cannot be parsed is an [`Error`](crate::Error) naming the
//! variable and the accepted values.

pub mod env;
mod parse;
mod settings;

pub(crate) use settings::{Overrides, Settings};

use std::fmt;

/// When the per-invocation flush runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushMode {
    /// After the response has been posted to the Runtime API and before the runtime asks for
    /// the next event: the caller never waits for the export (the time is billed, though).
    #[default]
    AfterResponse,
    /// Before the response is posted: the caller waits for the export, but nothing runs after
    /// the response. Needs the handler to be wrapped too (see [`OtelLayer::wrap`](crate::OtelLayer::wrap)).
    BeforeResponse,
}

/// Where spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TracesExporter {
    /// OTLP to a collector, Jaeger or any OTLP backend.
    #[default]
    Otlp,
    /// One JSON object per span on stdout.
    Console,
    /// Nowhere: spans are still created so context propagates, but nothing is exported.
    None,
}

/// The OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Protobuf over HTTP (`http/protobuf`).
    #[default]
    HttpProtobuf,
    /// JSON over HTTP (`http/json`; `http-json` feature).
    HttpJson,
    /// gRPC (`grpc`; `grpc` feature).
    Grpc,
}

/// What the `Sampled=0` of Lambda's X-Ray header means for the invocation span.
///
/// Lambda passes an X-Ray header with every invocation, with `Sampled=0` even when Active
/// tracing is off. The span always joins the header's trace (its Root and Parent); this only
/// decides whether `Sampled=0` can stop it from being recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XraySampled {
    /// `Sampled=0` is ignored: the configured sampler decides as for a root span, so users of
    /// other backends never lose traces because X-Ray did not sample them. `Sampled=1` is kept.
    #[default]
    Ignore,
    /// `Sampled=0` is obeyed (with a parent-based sampler the span is dropped), so only traces
    /// X-Ray records are exported: for cost control when X-Ray is the backend.
    Honor,
}

impl fmt::Display for FlushMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AfterResponse => "after-response",
            Self::BeforeResponse => "before-response",
        })
    }
}
