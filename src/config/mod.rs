//! Settings: what can be configured, where each value comes from, and how it is checked.
//!
//! Every setting is resolved once, when [`TelemetryBuilder`](crate::TelemetryBuilder) builds,
//! into the crate-internal `Settings` the other modules read; nothing else in the crate reads
//! the environment for a setting. This is a ground module: it depends on std, libraries and
//! the crate's [`Error`](crate::Error) only, never on a module above it (`telemetry`, `layer`,
//! `invocation`, `trigger`, `flush`, ...).
//!
//! Precedence, the same for every setting and written once (`precedence.rs`): a value set in
//! code on [`TelemetryBuilder`](crate::TelemetryBuilder) > the signal-specific environment
//! variable (`OTEL_EXPORTER_OTLP_TRACES_*`) > the generic one (`OTEL_EXPORTER_OTLP_*`) > the
//! default. The variables and their defaults are listed side by side in [`env`](mod@env).
//! An empty variable counts as unset. A value that cannot be parsed is an
//! [`Error`](crate::Error) naming the variable (or, for a value set in code, the builder
//! method) and the accepted values.
//!
//! # Cargo features
//!
//! A setting that needs a feature this build leaves out is an
//! [`Error::FeatureDisabled`](crate::Error::FeatureDisabled) naming the feature and a
//! variable: any `OTEL_METRICS_EXPORTER` but `none` without `metrics`, any
//! `OTEL_LOGS_EXPORTER` but `none` without `logs` (or the builder method that set it);
//! `xray` without its feature names `OTEL_TRACES_EXPORTER`, and `grpc` or `http/json`
//! without theirs name `OTEL_EXPORTER_OTLP_PROTOCOL`, whichever variable or method chose
//! them. The defaults never
//! need one: without `metrics` (or `logs`) that signal's exporter defaults to `none`, so a
//! traces-only build (`default-features = false`) starts with no variable set. The settings
//! only metrics or logs read (temporality, export interval, EMF namespace, log queue size and
//! value length) are then neither read nor checked, and the builder methods that only set them
//! do not exist.
//!
//! # What libraries still read by themselves
//!
//! Some libraries under this crate read the process environment on their own, behind these
//! settings (checked in their sources, at the versions in `Cargo.lock`):
//! - opentelemetry_sdk, when the tracer provider is built: `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`,
//!   `OTEL_SPAN_EVENT_COUNT_LIMIT` and `OTEL_SPAN_LINK_COUNT_LIMIT` (128 each by default; a
//!   value that is not a whole number is ignored). It also reads `OTEL_TRACES_SAMPLER`,
//!   `OTEL_TRACES_SAMPLER_ARG`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` for its own
//!   defaults, which the sampler and the resource built from these settings replace.
//! - opentelemetry-otlp, when an OTLP exporter is built: `OTEL_EXPORTER_OTLP_*HEADERS` and
//!   `OTEL_EXPORTER_OTLP_*COMPRESSION`, both defeated (see `export/otlp`), and for
//!   gRPC `OTEL_EXPORTER_OTLP_*INSECURE`, which only matters for an endpoint without a
//!   scheme, which these settings refuse.
//! - opentelemetry-aws's Lambda resource detector: `AWS_LAMBDA_FUNCTION_NAME`,
//!   `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_REGION`,
//!   `AWS_LAMBDA_LOG_GROUP_NAME` and `AWS_LAMBDA_LOG_STREAM_NAME`, for the `cloud.*` and
//!   `faas.*` resource attributes.
//! - rustls-native-certs (`tls` feature), for an `https://` endpoint: `SSL_CERT_FILE` and
//!   `SSL_CERT_DIR`.
//! - lambda_runtime, in the function's own runtime loop rather than here:
//!   `AWS_LAMBDA_RUNTIME_API`, the `AWS_LAMBDA_FUNCTION_*` and `AWS_LAMBDA_LOG_*_NAME`
//!   variables of its `Config`, `AWS_LAMBDA_MAX_CONCURRENCY` (`run_concurrent`) and
//!   `AWS_LAMBDA_INITIALIZATION_TYPE`.
//! - the flush itself (`flush`), from the process environment as lambda_runtime reads it,
//!   whatever `with_env_lookup` says: `AWS_LAMBDA_MAX_CONCURRENCY`, whose value above 1 means
//!   invocations side by side and no freeze between them, so a flush does not cut off the
//!   background exports still under way at its deadline.

pub mod env;
mod parse;
mod precedence;
mod settings;
mod signal;

pub(crate) use settings::{Overrides, Settings};
pub(crate) use signal::{Signal, SignalSettings};

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

/// Where a signal goes: `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Exporter {
    /// OTLP to a collector, Jaeger or any OTLP backend.
    #[default]
    Otlp,
    /// Traces only (`xray`): X-Ray segment documents over UDP to the X-Ray daemon that Lambda
    /// runs when Active tracing is on (`AWS_XRAY_DAEMON_ADDRESS`). No credentials, no HTTP.
    /// Needs the `xray` feature.
    Xray,
    /// Metrics only (`emf`): CloudWatch Embedded Metric Format lines on stdout, which
    /// CloudWatch Logs turns into metrics (`LAMBDA_OTEL_EMF_NAMESPACE`). Needs the `metrics`
    /// feature.
    Emf,
    /// One JSON object per span, metric or log record on stdout.
    Console,
    /// Nowhere. Spans are still created so context propagates; metrics and log records are not
    /// even recorded, so a signal switched off costs nothing.
    None,
}

/// How log lines are written to stdout (CloudWatch Logs): Lambda's `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text per event (`Text`, Lambda's default).
    #[default]
    Text,
    /// One JSON object per event (`JSON`), which CloudWatch Logs Insights and Lambda's log
    /// filtering read field by field.
    Json,
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

/// What `Sampled=0` in an X-Ray header means for the invocation span, when the header gives
/// its parent (through the [`Propagator::Xray`] or [`Propagator::XrayLambda`] propagator).
///
/// Lambda passes an X-Ray header with every invocation, with `Sampled=0` even when Active
/// tracing is off. The span joins the header's trace (its Root and Parent); this only decides
/// whether `Sampled=0` can stop it from being recorded. A header that makes no decision
/// (`Sampled=?`, or no `Sampled`) never does: the sampler decides as for a root span.
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

/// Where the invocation span's parent comes from: one entry of `OTEL_PROPAGATORS`.
///
/// Propagators run in the order given. When a later one finds a valid span context, it becomes
/// the parent and the one found before becomes a span link, so no context is lost. The default
/// is `tracecontext,baggage`, as in OpenTelemetry; add `xray-lambda` only when reporting to
/// X-Ray (`tracecontext,baggage,xray-lambda`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Propagator {
    /// W3C Trace Context (`tracecontext`): the event's `traceparent` and `tracestate` headers.
    TraceContext,
    /// W3C Baggage (`baggage`): the event's `baggage` header becomes the context's baggage.
    /// Never gives a parent.
    Baggage,
    /// AWS X-Ray (`xray`): the event's `X-Amzn-Trace-Id` header. A header without a `Parent`,
    /// as ALB and API Gateway send, gives no parent.
    Xray,
    /// AWS X-Ray for Lambda (`xray-lambda`): as [`Xray`](Self::Xray), and when the event has no
    /// X-Ray parent, Lambda's own X-Ray header for the invocation, so the span joins the trace
    /// of Lambda's Active tracing. [`XraySampled`] decides what its `Sampled=0` means.
    XrayLambda,
}

impl fmt::Display for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::Xray => "xray",
            Self::XrayLambda => "xray-lambda",
        })
    }
}

impl fmt::Display for FlushMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AfterResponse => "after-response",
            Self::BeforeResponse => "before-response",
        })
    }
}
