//! Environment variable names and their defaults, side by side.
//!
//! Each variable is followed by its default, when it has one of its own; a variable whose
//! default depends on another setting says so. Every setting is read by the same precedence
//! rule: a value set in code > the signal-specific variable > the generic variable > the
//! default.

use super::{Exporter, FlushMode, LogFormat, Propagator, Protocol};
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::Temporality;

/// Standard: turns the SDK off (`true`/`false`).
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// Default of [`OTEL_SDK_DISABLED`]: on.
pub const DEFAULT_SDK_DISABLED: bool = false;

/// Standard: the `service.name` resource attribute. Unset, `service.name` in
/// [`OTEL_RESOURCE_ATTRIBUTES`], else [`AWS_LAMBDA_FUNCTION_NAME`], else
/// [`DEFAULT_SERVICE_NAME`].
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `service.name` when neither the code, `OTEL_SERVICE_NAME` nor Lambda gives one.
pub const DEFAULT_SERVICE_NAME: &str = "unknown_service";
/// Standard: extra resource attributes, `key=value,key2=value2` (values percent-encoded).
/// Default: none.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// Standard: the span exporter (`otlp`, `xray`, `console`, `none`).
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// Standard: the metric exporter (`otlp`, `emf`, `console`, `none`).
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// Standard: the log record exporter (`otlp`, `console`, `none`).
pub const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
/// Default of [`OTEL_TRACES_EXPORTER`], [`OTEL_METRICS_EXPORTER`] and [`OTEL_LOGS_EXPORTER`];
/// `none` for metrics without the `metrics` feature and for logs without the `logs` feature.
pub const DEFAULT_EXPORTER: Exporter = Exporter::Otlp;

/// Standard: the temporality of exported metrics (`cumulative`, `delta`, `lowmemory`).
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// Default of [`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`] (the `emf` exporter always
/// uses delta). With the `metrics` feature.
#[cfg(feature = "metrics")]
pub const DEFAULT_TEMPORALITY: Temporality = Temporality::Cumulative;

/// Standard: the OTLP protocol for every signal.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Standard: the OTLP protocol for traces (wins over [`OTEL_EXPORTER_OTLP_PROTOCOL`]).
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// Standard: the OTLP protocol for metrics (wins over [`OTEL_EXPORTER_OTLP_PROTOCOL`]).
pub const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// Standard: the OTLP protocol for logs (wins over [`OTEL_EXPORTER_OTLP_PROTOCOL`]).
pub const OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL";
/// Default of the OTLP protocol variables.
pub const DEFAULT_PROTOCOL: Protocol = Protocol::HttpProtobuf;

/// Standard: the OTLP base endpoint; `/v1/traces`, `/v1/metrics` or `/v1/logs` is appended
/// to its path for HTTP (before a query, if it has one).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Standard: the full OTLP traces endpoint, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Standard: the full OTLP metrics endpoint, used as is.
pub const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// Standard: the full OTLP logs endpoint, used as is.
pub const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// Default OTLP/HTTP endpoint (a collector or Jaeger on the same host).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default OTLP/gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";

/// Standard: headers sent with every OTLP request, `key=value,...`. Default: none.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Standard: headers for trace exports (merged over [`OTEL_EXPORTER_OTLP_HEADERS`]).
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Standard: headers for metric exports (merged over [`OTEL_EXPORTER_OTLP_HEADERS`]).
pub const OTEL_EXPORTER_OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// Standard: headers for log exports (merged over [`OTEL_EXPORTER_OTLP_HEADERS`]).
pub const OTEL_EXPORTER_OTLP_LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";

/// Standard: the compression of every OTLP export. Only `none`, the default, is accepted: this
/// build of lambda-otel enables neither opentelemetry-otlp's `gzip-http` nor its `gzip-tonic`
/// cargo feature, so `gzip` is an error naming the variable rather than a setting silently
/// ignored.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// Standard: the compression of trace exports (wins over [`OTEL_EXPORTER_OTLP_COMPRESSION`]).
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// Standard: the compression of metric exports (wins over [`OTEL_EXPORTER_OTLP_COMPRESSION`]).
pub const OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
/// Standard: the compression of log exports (wins over [`OTEL_EXPORTER_OTLP_COMPRESSION`]).
pub const OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";

/// Standard: the most one OTLP export request may take, in milliseconds (a whole number, at
/// least 1), for every signal.
///
/// The flush timeout ([`LAMBDA_OTEL_FLUSH_TIMEOUT_MS`]) bounds it: an export's timeout is the
/// smaller of the two, since the flush stops waiting for an export at its own bound anyway.
/// Unset, it is the flush timeout (the standard's 10 s default would never apply).
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Standard: the timeout of trace exports in milliseconds (wins over
/// [`OTEL_EXPORTER_OTLP_TIMEOUT`]; bounded by the flush timeout as well).
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// Standard: the timeout of metric exports in milliseconds (wins over
/// [`OTEL_EXPORTER_OTLP_TIMEOUT`]; bounded by the flush timeout as well).
pub const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// Standard: the timeout of log exports in milliseconds (wins over
/// [`OTEL_EXPORTER_OTLP_TIMEOUT`]; bounded by the flush timeout as well).
pub const OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";

/// Standard: the most spans held for export at once (1 to 1,000,000); one more is dropped
/// and counted.
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Standard: the most log records held for export at once (1 to 1,000,000); one more is
/// dropped and counted.
pub const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// Default of [`OTEL_BSP_MAX_QUEUE_SIZE`] and [`OTEL_BLRP_MAX_QUEUE_SIZE`], the OpenTelemetry one.
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;

/// Standard: the most bytes of a string attribute value (each string of an array too); longer
/// values are cut at a character boundary.
pub const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Standard: [`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`] for span, span event and link attributes.
pub const OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Standard: [`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`] for log record attributes (and, here, the
/// body, the message most often copied from the event).
pub const OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str =
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Default of [`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`]: OpenTelemetry sets no limit; on Lambda
/// a span is held in memory until the flush and an X-Ray segment document must fit in one
/// 64 KiB datagram, so values from outside (a request body, a query) are bounded by default.
pub const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT: usize = 4096;

/// Standard: the sampler.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// Default of [`OTEL_TRACES_SAMPLER`], the OpenTelemetry one.
pub const DEFAULT_TRACES_SAMPLER: &str = "parentbased_always_on";
/// Standard: the sampler's argument (the ratio for `*traceidratio`). Default 1.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";

/// lambda-otel: when the flush runs (`after-response`, `before-response`).
pub const LAMBDA_OTEL_FLUSH: &str = "LAMBDA_OTEL_FLUSH";
/// Default of [`LAMBDA_OTEL_FLUSH`].
pub const DEFAULT_FLUSH_MODE: FlushMode = FlushMode::AfterResponse;
/// lambda-otel: the flush bound in milliseconds, 1 to 60000. It also bounds each OTLP
/// export's timeout (see [`OTEL_EXPORTER_OTLP_TIMEOUT`]).
pub const LAMBDA_OTEL_FLUSH_TIMEOUT_MS: &str = "LAMBDA_OTEL_FLUSH_TIMEOUT_MS";
/// Default flush bound: well under a second, far above a healthy collector's round trip.
pub const DEFAULT_FLUSH_TIMEOUT_MS: u64 = 200;
/// Standard: the least time in milliseconds between two metric exports, 0 to 86400000. Read
/// the Lambda way: no timer (a frozen process runs none), but the flush that ends an invocation
/// collects and exports the metrics only when this long has passed since the last export (the
/// first invocation's always), and shutdown always does. `0` exports them with every
/// invocation. Spans and log records are not held back: they go with every flush.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Default of [`OTEL_METRIC_EXPORT_INTERVAL`]: the standard's 60 s.
pub const DEFAULT_METRIC_EXPORT_INTERVAL_MS: u64 = 60_000;
/// lambda-otel: whether an invocation whose handler still runs when only the flush bound (and
/// 50 ms) is left before its deadline ends its span as timed out and flushes (`on`, `off`).
pub const LAMBDA_OTEL_DEADLINE_GUARD: &str = "LAMBDA_OTEL_DEADLINE_GUARD";
/// Default of [`LAMBDA_OTEL_DEADLINE_GUARD`]: on.
pub const DEFAULT_DEADLINE_GUARD: bool = true;

/// lambda-otel: what the X-Ray header's `Sampled=0` means (`ignore`, `honor`). Default
/// `honor` with the `xray` traces exporter (X-Ray's sampling decides), else `ignore`.
pub const LAMBDA_OTEL_XRAY_SAMPLED: &str = "LAMBDA_OTEL_XRAY_SAMPLED";

/// Standard: the context propagators, in order (`tracecontext`, `baggage`, `xray`,
/// `xray-lambda`, `none`).
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// The OpenTelemetry default. `xray-lambda` is left out on purpose: with it, Lambda's X-Ray
/// segment becomes the parent, and traces in other backends show a missing parent.
pub const DEFAULT_PROPAGATORS: &[Propagator] = &[Propagator::TraceContext, Propagator::Baggage];

/// lambda-otel: query-string keys whose values are recorded as `REDACTED` in `url.query`
/// (comma-separated, any case); replaces [`DEFAULT_REDACTED_QUERY_KEYS`]. A list that names
/// no key counts as unset.
pub const LAMBDA_OTEL_REDACTED_QUERY_KEYS: &str = "LAMBDA_OTEL_REDACTED_QUERY_KEYS";
/// Query-string keys whose values carry credentials: the HTTP semantic conventions' list
/// (`sig`, `signature`, `awsaccesskeyid`, `x-goog-signature`), S3 presigned URLs' other
/// credentials, and the usual names of tokens, keys, passwords, sessions and OAuth codes.
/// Lower-case; compared with a query's keys percent-decoded, in any case.
pub const DEFAULT_REDACTED_QUERY_KEYS: &[&str] = &[
    "sig",
    "signature",
    "awsaccesskeyid",
    "x-goog-signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "auth_token",
    "session_token",
    "jwt",
    "auth",
    "authorization",
    "credential",
    "api_key",
    "apikey",
    "key",
    "private_key",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "session",
    "sessionid",
    "session_id",
    "code",
];

/// lambda-otel: whether the raw event is read for attributes and trace context (`on`, `off`).
pub const LAMBDA_OTEL_EVENT_EXTRACTION: &str = "LAMBDA_OTEL_EVENT_EXTRACTION";
/// Default of [`LAMBDA_OTEL_EVENT_EXTRACTION`]: on.
pub const DEFAULT_EVENT_EXTRACTION: bool = true;

/// Lambda (Active tracing): where the X-Ray daemon listens, `host:port` or
/// `udp:host:port tcp:host:port`; read by the `xray` traces exporter.
pub const AWS_XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// Default X-Ray daemon address, where the daemon listens outside Lambda.
pub const DEFAULT_XRAY_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

/// lambda-otel: the CloudWatch namespace of the `emf` metrics exporter. Default: the service
/// name, made valid for CloudWatch.
pub const LAMBDA_OTEL_EMF_NAMESPACE: &str = "LAMBDA_OTEL_EMF_NAMESPACE";

/// Lambda: how the environment was initialised (`on-demand`, `provisioned-concurrency`,
/// `snap-start`, `lambda-managed-instances`).
pub const AWS_LAMBDA_INITIALIZATION_TYPE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";

/// Lambda: the format of log lines (`Text`, `JSON`), set by the function's logging config.
pub const AWS_LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Default of [`AWS_LAMBDA_LOG_FORMAT`], Lambda's.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;
/// Lambda: the lowest level logged (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`), set by
/// the function's logging config.
pub const AWS_LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// `tracing-subscriber`: filter directives for log lines and log records, over
/// [`AWS_LAMBDA_LOG_LEVEL`] (for example `info,dice_roller=debug`).
pub const RUST_LOG: &str = "RUST_LOG";
/// The filter when neither [`RUST_LOG`] nor [`AWS_LAMBDA_LOG_LEVEL`] is set.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Lambda: the function name, the default `service.name`.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_of_enum_settings_are_the_enums_defaults() {
        assert_eq!(DEFAULT_EXPORTER, Exporter::default());
        assert_eq!(DEFAULT_PROTOCOL, Protocol::default());
        #[cfg(feature = "metrics")]
        assert_eq!(DEFAULT_TEMPORALITY, Temporality::default());
        assert_eq!(DEFAULT_LOG_FORMAT, LogFormat::default());
        assert_eq!(DEFAULT_FLUSH_MODE, FlushMode::default());
    }
}
