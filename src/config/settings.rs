//! Resolving every setting once, at start-up, from code overrides and an environment lookup,
//! each by the one precedence rule ([`Env::resolve`]).

use super::precedence::{Env, Setting, any_value};
use super::signal::{OtlpOverrides, Signal, SignalOverrides, SignalSettings};
use super::{Exporter, FlushMode, LogFormat, Propagator, XraySampled, env, parse};
use crate::Error;
#[cfg(feature = "logs")]
use limits::LOG_QUEUE;
use limits::{SPAN_QUEUE, length_limit, queue_size};
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::Sampler;
use service::service;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

mod limits;
mod service;

/// Values set in code on the builder; `None` means "from the environment, else the default".
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub disabled: Option<bool>,
    pub service_name: Option<String>,
    pub otlp: OtlpOverrides,
    pub traces: SignalOverrides,
    pub metrics: SignalOverrides,
    pub logs: SignalOverrides,
    #[cfg(feature = "metrics")]
    pub temporality: Option<Temporality>,
    pub log_format: Option<LogFormat>,
    pub sampler: Option<Sampler>,
    pub flush_mode: Option<FlushMode>,
    pub flush_timeout: Option<Duration>,
    #[cfg(feature = "metrics")]
    pub metric_export_interval: Option<Duration>,
    pub deadline_guard: Option<bool>,
    pub xray_sampled: Option<XraySampled>,
    pub propagators: Option<Vec<Propagator>>,
    pub redacted_query_keys: Option<Vec<String>>,
    pub event_extraction: Option<bool>,
    pub xray_daemon_address: Option<SocketAddr>,
    #[cfg(feature = "metrics")]
    pub emf_namespace: Option<String>,
    pub span_queue_size: Option<usize>,
    #[cfg(feature = "logs")]
    pub log_queue_size: Option<usize>,
    pub attribute_value_length_limit: Option<usize>,
}

/// Every setting, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub disabled: bool,
    pub service_name: String,
    pub resource_attributes: Vec<(String, String)>,
    pub traces: SignalSettings,
    pub metrics: SignalSettings,
    pub logs: SignalSettings,
    #[cfg(feature = "metrics")]
    pub temporality: Temporality,
    pub log_format: LogFormat,
    /// `tracing` filter directives for log lines and log records.
    pub log_filter: String,
    pub sampler: Sampler,
    pub flush_mode: FlushMode,
    pub flush_timeout: Duration,
    /// The least time between two metric exports at the end of an invocation (zero: every one).
    #[cfg(feature = "metrics")]
    pub metric_export_interval: Duration,
    pub deadline_guard: bool,
    pub xray_sampled: XraySampled,
    /// In order, without duplicates; empty for `none`.
    pub propagators: Arc<[Propagator]>,
    /// Lower-case.
    pub redacted_query_keys: Arc<[Box<str>]>,
    pub event_extraction: bool,
    /// Where the `xray` exporter sends segment documents.
    pub xray_daemon_address: SocketAddr,
    /// The CloudWatch namespace of the `emf` exporter.
    #[cfg(feature = "metrics")]
    pub emf_namespace: String,
    /// The `level` member of EMF lines: the lowest level Lambda's log-level filtering keeps.
    #[cfg(feature = "metrics")]
    pub emf_level: &'static str,
    /// The most spans buffered or on their way out (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub span_queue_size: usize,
    /// The most log records buffered or on their way out (`OTEL_BLRP_MAX_QUEUE_SIZE`).
    #[cfg(feature = "logs")]
    pub log_queue_size: usize,
    /// The most bytes of a span's string attribute value (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    pub span_attribute_value_length_limit: usize,
    /// The most bytes of a log record's string body or attribute value
    /// (`OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    #[cfg(feature = "logs")]
    pub log_attribute_value_length_limit: usize,
    /// Whether this process can have a cold start (not provisioned, not restored from a snapshot).
    pub cold_start_possible: bool,
}

impl Settings {
    /// Every setting from the values set in `code` and the variables `lookup` finds; the first
    /// invalid value, in the order written here, is the error.
    pub(crate) fn resolve(
        code: Overrides,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let env = Env::new(lookup);
        let disabled = disabled(code.disabled, env)?;
        let (service_name, resource_attributes) = service(code.service_name, env)?;
        let flush_timeout = flush_timeout(code.flush_timeout, env)?;
        let signal = |signal, overrides| {
            SignalSettings::resolve(signal, overrides, &code.otlp, flush_timeout, env)
        };
        let traces = signal(Signal::Traces, code.traces)?;
        let metrics = signal(Signal::Metrics, code.metrics)?;
        let logs = signal(Signal::Logs, code.logs)?;
        let xray = traces.exporter == Exporter::Xray;
        Ok(Self {
            #[cfg(feature = "metrics")]
            temporality: temporality(code.temporality, env)?,
            log_format: log_format(code.log_format, env)?,
            log_filter: log_filter(env)?,
            sampler: sampler(code.sampler, env)?,
            flush_mode: flush_mode(code.flush_mode, env)?,
            #[cfg(feature = "metrics")]
            metric_export_interval: metric_export_interval(code.metric_export_interval, env)?,
            deadline_guard: deadline_guard(code.deadline_guard, env)?,
            xray_sampled: xray_sampled(code.xray_sampled, xray, env)?,
            xray_daemon_address: xray_daemon_address(code.xray_daemon_address, xray, env)?,
            #[cfg(feature = "metrics")]
            emf_namespace: service::emf_namespace(code.emf_namespace, &service_name, env)?,
            #[cfg(feature = "metrics")]
            emf_level: emf_level(env)?,
            propagators: propagators(code.propagators, env)?.into(),
            redacted_query_keys: redacted_query_keys(code.redacted_query_keys, env)?.into(),
            event_extraction: event_extraction(code.event_extraction, env)?,
            span_queue_size: queue_size(code.span_queue_size, &SPAN_QUEUE, env)?,
            #[cfg(feature = "logs")]
            log_queue_size: queue_size(code.log_queue_size, &LOG_QUEUE, env)?,
            span_attribute_value_length_limit: length_limit(
                code.attribute_value_length_limit,
                env::OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                env,
            )?,
            #[cfg(feature = "logs")]
            log_attribute_value_length_limit: length_limit(
                code.attribute_value_length_limit,
                env::OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                env,
            )?,
            cold_start_possible: cold_start_possible(env)?,
            disabled,
            service_name,
            resource_attributes,
            traces,
            metrics,
            logs,
            flush_timeout,
        })
    }
}

fn disabled(code: Option<bool>, env: Env<'_>) -> Result<bool, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_sdk_disabled (OTEL_SDK_DISABLED)",
        check: any_value,
        vars: &[env::OTEL_SDK_DISABLED],
        parse: parse::bool_flag,
        default: env::DEFAULT_SDK_DISABLED,
    })
}

fn flush_timeout(code: Option<Duration>, env: Env<'_>) -> Result<Duration, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_flush_timeout (LAMBDA_OTEL_FLUSH_TIMEOUT_MS)",
        check: parse::flush_timeout_in_code,
        vars: &[env::LAMBDA_OTEL_FLUSH_TIMEOUT_MS],
        parse: parse::flush_timeout,
        default: Duration::from_millis(env::DEFAULT_FLUSH_TIMEOUT_MS),
    })
}

#[cfg(feature = "metrics")]
fn metric_export_interval(code: Option<Duration>, env: Env<'_>) -> Result<Duration, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_metric_export_interval (OTEL_METRIC_EXPORT_INTERVAL)",
        check: parse::export_interval_in_code,
        vars: &[env::OTEL_METRIC_EXPORT_INTERVAL],
        parse: parse::export_interval,
        default: Duration::from_millis(env::DEFAULT_METRIC_EXPORT_INTERVAL_MS),
    })
}

#[cfg(feature = "metrics")]
fn temporality(code: Option<Temporality>, env: Env<'_>) -> Result<Temporality, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_temporality \
                 (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)",
        check: any_value,
        vars: &[env::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE],
        parse: parse::temporality,
        default: env::DEFAULT_TEMPORALITY,
    })
}

fn log_format(code: Option<LogFormat>, env: Env<'_>) -> Result<LogFormat, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_log_format (AWS_LAMBDA_LOG_FORMAT)",
        check: any_value,
        vars: &[env::AWS_LAMBDA_LOG_FORMAT],
        parse: parse::log_format,
        default: env::DEFAULT_LOG_FORMAT,
    })
}

/// `RUST_LOG`, else Lambda's level, else `info`. Lambda's level is checked even when
/// `RUST_LOG` wins, so a typo in the function's config shows up.
fn log_filter(env: Env<'_>) -> Result<String, Error> {
    let lambda_level = env.read(
        &[env::AWS_LAMBDA_LOG_LEVEL],
        parse::log_level,
        env::DEFAULT_LOG_FILTER,
    )?;
    env.read(&[env::RUST_LOG], parse::log_filter, lambda_level.to_owned())
}

/// The `level` of EMF lines, so that Lambda's log-level filtering keeps them: it reads a line
/// without a level as `INFO` and drops it when the application log level
/// (`AWS_LAMBDA_LOG_LEVEL`) is `WARN`, `ERROR` or `FATAL`; that level then, else `INFO`.
#[cfg(feature = "metrics")]
fn emf_level(env: Env<'_>) -> Result<&'static str, Error> {
    env.read(&[env::AWS_LAMBDA_LOG_LEVEL], parse::emf_level, "INFO")
}

fn sampler(code: Option<Sampler>, env: Env<'_>) -> Result<Sampler, Error> {
    let arg = env.get(env::OTEL_TRACES_SAMPLER_ARG);
    let sampler = |variable, name: &str| parse::sampler(variable, name, arg.as_deref());
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_sampler (OTEL_TRACES_SAMPLER)",
        check: any_value,
        vars: &[env::OTEL_TRACES_SAMPLER],
        parse: sampler,
        default: sampler(env::OTEL_TRACES_SAMPLER, env::DEFAULT_TRACES_SAMPLER)?,
    })
}

fn flush_mode(code: Option<FlushMode>, env: Env<'_>) -> Result<FlushMode, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_flush_mode (LAMBDA_OTEL_FLUSH)",
        check: any_value,
        vars: &[env::LAMBDA_OTEL_FLUSH],
        parse: parse::flush_mode,
        default: env::DEFAULT_FLUSH_MODE,
    })
}

fn deadline_guard(code: Option<bool>, env: Env<'_>) -> Result<bool, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_deadline_guard (LAMBDA_OTEL_DEADLINE_GUARD)",
        check: any_value,
        vars: &[env::LAMBDA_OTEL_DEADLINE_GUARD],
        parse: parse::on_off,
        default: env::DEFAULT_DEADLINE_GUARD,
    })
}

/// With X-Ray as the backend (`xray`), X-Ray's sampling decision is the one to follow: an
/// unsampled invocation has no Lambda segment for the function's documents to sit under.
fn xray_sampled(code: Option<XraySampled>, xray: bool, env: Env<'_>) -> Result<XraySampled, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_xray_sampled (LAMBDA_OTEL_XRAY_SAMPLED)",
        check: any_value,
        vars: &[env::LAMBDA_OTEL_XRAY_SAMPLED],
        parse: parse::xray_sampled,
        default: if xray {
            XraySampled::Honor
        } else {
            XraySampled::Ignore
        },
    })
}

/// Read only with the `xray` exporter: a daemon address is none of a non-X-Ray function's
/// business.
fn xray_daemon_address(
    code: Option<SocketAddr>,
    xray: bool,
    env: Env<'_>,
) -> Result<SocketAddr, Error> {
    const VAR: &str = env::AWS_XRAY_DAEMON_ADDRESS;
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_xray_daemon_address (AWS_XRAY_DAEMON_ADDRESS)",
        check: any_value,
        vars: if xray { &[VAR] } else { &[] },
        parse: parse::xray_daemon_address,
        default: parse::xray_daemon_address(VAR, env::DEFAULT_XRAY_DAEMON_ADDRESS)?,
    })
}

fn propagators(code: Option<Vec<Propagator>>, env: Env<'_>) -> Result<Vec<Propagator>, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_propagators (OTEL_PROPAGATORS)",
        check: |_, list| Ok(parse::unique(list)),
        vars: &[env::OTEL_PROPAGATORS],
        parse: parse::propagators,
        default: env::DEFAULT_PROPAGATORS.to_vec(),
    })
}

/// Only code can ask for an empty list: a variable that names no key counts as unset, so a
/// stray comma cannot switch redaction off.
fn redacted_query_keys(code: Option<Vec<String>>, env: Env<'_>) -> Result<Vec<Box<str>>, Error> {
    let default = || parse::query_keys(env::DEFAULT_REDACTED_QUERY_KEYS);
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_redacted_query_keys (LAMBDA_OTEL_REDACTED_QUERY_KEYS)",
        check: |_, keys| Ok(parse::query_keys(keys)),
        vars: &[env::LAMBDA_OTEL_REDACTED_QUERY_KEYS],
        parse: |_, value| {
            let keys = parse::query_keys(value.split(','));
            Ok(if keys.is_empty() { default() } else { keys })
        },
        default: default(),
    })
}

fn event_extraction(code: Option<bool>, env: Env<'_>) -> Result<bool, Error> {
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_event_extraction (LAMBDA_OTEL_EVENT_EXTRACTION)",
        check: any_value,
        vars: &[env::LAMBDA_OTEL_EVENT_EXTRACTION],
        parse: parse::on_off,
        default: env::DEFAULT_EVENT_EXTRACTION,
    })
}

/// Provisioned and restored environments are initialised before any invocation arrives.
fn cold_start_possible(env: Env<'_>) -> Result<bool, Error> {
    let initialization = |_, value: &str| {
        Ok(!matches!(
            value,
            "provisioned-concurrency" | "snap-start" | "lambda-managed-instances"
        ))
    };
    env.read(&[env::AWS_LAMBDA_INITIALIZATION_TYPE], initialization, true)
}

// Most of them read metrics and logs settings too.
#[cfg(all(test, feature = "metrics", feature = "logs"))]
mod tests;
