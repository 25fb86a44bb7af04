//! Resolving every setting once, at start-up, from code overrides and an environment lookup.

use super::signal::{OtlpOverrides, Signal, SignalOverrides, SignalSettings};
use super::{Exporter, FlushMode, LogFormat, Propagator, XraySampled, env, parse};
use crate::Error;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::Sampler;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Values set in code on the builder; `None` means "from the environment, else the default".
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub disabled: Option<bool>,
    pub service_name: Option<String>,
    pub otlp: OtlpOverrides,
    pub traces: SignalOverrides,
    pub metrics: SignalOverrides,
    pub logs: SignalOverrides,
    pub temporality: Option<Temporality>,
    pub log_format: Option<LogFormat>,
    pub sampler: Option<Sampler>,
    pub flush_mode: Option<FlushMode>,
    pub flush_timeout: Option<Duration>,
    pub xray_sampled: Option<XraySampled>,
    pub propagators: Option<Vec<Propagator>>,
    pub redacted_query_keys: Option<Vec<String>>,
    pub event_extraction: Option<bool>,
    pub xray_daemon_address: Option<SocketAddr>,
    pub emf_namespace: Option<String>,
    pub span_queue_size: Option<usize>,
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
    pub temporality: Temporality,
    pub log_format: LogFormat,
    /// `tracing` filter directives for log lines and log records.
    pub log_filter: String,
    pub sampler: Sampler,
    pub flush_mode: FlushMode,
    pub flush_timeout: Duration,
    pub xray_sampled: XraySampled,
    /// In order, without duplicates; empty for `none`.
    pub propagators: Arc<[Propagator]>,
    /// Lower-case.
    pub redacted_query_keys: Arc<[Box<str>]>,
    pub event_extraction: bool,
    /// Where the `xray` exporter sends segment documents.
    pub xray_daemon_address: SocketAddr,
    /// The CloudWatch namespace of the `emf` exporter.
    pub emf_namespace: String,
    /// The most spans buffered or on their way out (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub span_queue_size: usize,
    /// The most log records buffered or on their way out (`OTEL_BLRP_MAX_QUEUE_SIZE`).
    pub log_queue_size: usize,
    /// The most bytes of a span's string attribute value (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    pub span_attribute_value_length_limit: usize,
    /// Whether this process can have a cold start (not provisioned, not restored from a snapshot).
    pub cold_start_possible: bool,
}

impl Settings {
    pub(crate) fn resolve(
        overrides: Overrides,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        // An empty variable counts as unset, as the OpenTelemetry spec asks.
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let disabled = match overrides.disabled {
            Some(d) => d,
            None => var(env::OTEL_SDK_DISABLED)
                .map(|v| parse::bool_flag(env::OTEL_SDK_DISABLED, &v))
                .transpose()?
                .unwrap_or(false),
        };
        let mut resource_attributes = var(env::OTEL_RESOURCE_ATTRIBUTES)
            .map(|v| parse::key_values(env::OTEL_RESOURCE_ATTRIBUTES, &v))
            .transpose()?
            .unwrap_or_default();
        let service_name = overrides
            .service_name
            .or_else(|| var(env::OTEL_SERVICE_NAME))
            .or_else(|| take_service_name(&mut resource_attributes))
            .or_else(|| var(env::AWS_LAMBDA_FUNCTION_NAME))
            .unwrap_or_else(|| env::DEFAULT_SERVICE_NAME.to_owned());
        resource_attributes.retain(|(k, _)| k != "service.name");

        let flush_timeout = match overrides.flush_timeout {
            Some(t) => parse::flush_timeout_in_code(t)?,
            None => var(env::LAMBDA_OTEL_FLUSH_TIMEOUT_MS)
                .map(|v| parse::flush_timeout(&v))
                .transpose()?
                .unwrap_or(Duration::from_millis(env::DEFAULT_FLUSH_TIMEOUT_MS)),
        };
        let otlp = &overrides.otlp;
        let signal =
            |signal, code| SignalSettings::resolve(signal, code, otlp, flush_timeout, &var);
        let traces = signal(Signal::Traces, overrides.traces)?;
        let metrics = signal(Signal::Metrics, overrides.metrics)?;
        let logs = signal(Signal::Logs, overrides.logs)?;
        let temporality = match overrides.temporality {
            Some(t) => t,
            None => var(env::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)
                .map(|v| parse::temporality(&v))
                .transpose()?
                .unwrap_or_default(),
        };
        let log_format = match overrides.log_format {
            Some(f) => f,
            None => var(env::AWS_LAMBDA_LOG_FORMAT)
                .map(|v| parse::log_format(&v))
                .transpose()?
                .unwrap_or_default(),
        };
        // Checked even when RUST_LOG wins, so a typo in the function's config shows up.
        let lambda_level = var(env::AWS_LAMBDA_LOG_LEVEL)
            .map(|v| parse::log_level(&v))
            .transpose()?;
        let log_filter = match var(env::RUST_LOG) {
            Some(directives) => parse::log_filter(&directives)?,
            None => lambda_level.unwrap_or("info").to_owned(),
        };
        let sampler = match overrides.sampler {
            Some(s) => s,
            None => match var(env::OTEL_TRACES_SAMPLER) {
                Some(name) => parse::sampler(&name, var(env::OTEL_TRACES_SAMPLER_ARG).as_deref())?,
                None => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            },
        };
        let flush_mode = match overrides.flush_mode {
            Some(m) => m,
            None => var(env::LAMBDA_OTEL_FLUSH)
                .map(|v| parse::flush_mode(&v))
                .transpose()?
                .unwrap_or_default(),
        };
        // With X-Ray as the backend, X-Ray's sampling decision is the one to follow: an
        // unsampled invocation has no Lambda segment for the function's documents to sit under.
        let xray_sampled = match overrides.xray_sampled {
            Some(x) => x,
            None => var(env::LAMBDA_OTEL_XRAY_SAMPLED)
                .map(|v| parse::xray_sampled(&v))
                .transpose()?
                .unwrap_or(if traces.exporter == Exporter::Xray {
                    XraySampled::Honor
                } else {
                    XraySampled::Ignore
                }),
        };
        // Checked only when used: a daemon address is none of a non-X-Ray function's business.
        let xray_daemon_address = match overrides.xray_daemon_address {
            Some(address) => address,
            None => {
                let value =
                    var(env::AWS_XRAY_DAEMON_ADDRESS).filter(|_| traces.exporter == Exporter::Xray);
                parse::xray_daemon_address(
                    value.as_deref().unwrap_or(env::DEFAULT_XRAY_DAEMON_ADDRESS),
                )?
            }
        };
        let namespace = overrides
            .emf_namespace
            .or_else(|| var(env::LAMBDA_OTEL_EMF_NAMESPACE));
        let emf_namespace = match namespace {
            Some(namespace) => parse::emf_namespace(env::LAMBDA_OTEL_EMF_NAMESPACE, &namespace)?,
            // A service name CloudWatch would refuse is cut down to what it accepts.
            None => parse::emf_namespace(env::LAMBDA_OTEL_EMF_NAMESPACE, &service_name)
                .unwrap_or_else(|_| default_namespace(&service_name)),
        };
        let propagators = match overrides.propagators {
            Some(list) => parse::unique(list),
            None => var(env::OTEL_PROPAGATORS)
                .map(|v| parse::propagators(&v))
                .transpose()?
                .unwrap_or_else(|| env::DEFAULT_PROPAGATORS.to_vec()),
        };
        let redacted_query_keys = match overrides.redacted_query_keys {
            Some(keys) => parse::query_keys(keys),
            None => {
                // A variable that names no key counts as unset, so a stray comma cannot
                // switch redaction off; only code can ask for an empty list.
                let from_env = var(env::LAMBDA_OTEL_REDACTED_QUERY_KEYS)
                    .map(|v| parse::query_keys(v.split(',')))
                    .filter(|keys| !keys.is_empty());
                from_env.unwrap_or_else(|| parse::query_keys(env::DEFAULT_REDACTED_QUERY_KEYS))
            }
        };
        let event_extraction = match overrides.event_extraction {
            Some(on) => on,
            None => var(env::LAMBDA_OTEL_EVENT_EXTRACTION)
                .map(|v| parse::on_off(env::LAMBDA_OTEL_EVENT_EXTRACTION, &v))
                .transpose()?
                .unwrap_or(true),
        };
        let span_queue_size = queue_size(
            overrides.span_queue_size,
            "TelemetryBuilder::with_span_queue_size (OTEL_BSP_MAX_QUEUE_SIZE)",
            env::OTEL_BSP_MAX_QUEUE_SIZE,
            &var,
        )?;
        let log_queue_size = queue_size(
            overrides.log_queue_size,
            "TelemetryBuilder::with_log_queue_size (OTEL_BLRP_MAX_QUEUE_SIZE)",
            env::OTEL_BLRP_MAX_QUEUE_SIZE,
            &var,
        )?;
        let span_attribute_value_length_limit = match overrides.attribute_value_length_limit {
            Some(limit) => parse::length_limit_in_code(
                "TelemetryBuilder::with_attribute_value_length_limit \
                 (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT)",
                limit,
            )?,
            None => [
                env::OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                env::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            ]
            .into_iter()
            .find_map(|variable| var(variable).map(|value| (variable, value)))
            .map(|(variable, value)| parse::length_limit(variable, &value))
            .transpose()?
            .unwrap_or(env::DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT),
        };
        let cold_start_possible = !matches!(
            var(env::AWS_LAMBDA_INITIALIZATION_TYPE).as_deref(),
            Some("provisioned-concurrency" | "snap-start" | "lambda-managed-instances")
        );

        Ok(Self {
            disabled,
            service_name,
            resource_attributes,
            traces,
            metrics,
            logs,
            temporality,
            log_format,
            log_filter,
            sampler,
            flush_mode,
            flush_timeout,
            xray_sampled,
            propagators: propagators.into(),
            redacted_query_keys: redacted_query_keys.into(),
            event_extraction,
            xray_daemon_address,
            emf_namespace,
            cold_start_possible,
            span_queue_size,
            log_queue_size,
            span_attribute_value_length_limit,
        })
    }
}

/// A queue size: from code (checked as its variable is), else the variable, else the default.
fn queue_size(
    code: Option<usize>,
    setter: &'static str,
    variable: &'static str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<usize, Error> {
    match code {
        Some(size) => parse::queue_size_in_code(setter, size),
        None => var(variable)
            .map(|v| parse::queue_size(variable, &v))
            .transpose()
            .map(|size| size.unwrap_or(env::DEFAULT_MAX_QUEUE_SIZE)),
    }
}

/// The service name as a CloudWatch namespace: printable ASCII without `:`, at most 255
/// characters, never in the reserved `AWS/` space.
fn default_namespace(service_name: &str) -> String {
    let mut namespace: String = service_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != ':' {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect();
    if namespace.starts_with("AWS/") {
        namespace.replace_range(..4, "AWS_");
    }
    if namespace.is_empty() {
        namespace.push_str(env::DEFAULT_SERVICE_NAME);
    }
    namespace
}

fn take_service_name(attributes: &mut [(String, String)]) -> Option<String> {
    attributes
        .iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)]) -> Result<Settings, Error> {
        resolve_with(Overrides::default(), vars)
    }

    fn resolve_with(overrides: Overrides, vars: &[(&str, &str)]) -> Result<Settings, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve(overrides, &move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = resolve(&[]).expect("defaults are valid");
        assert!(!s.disabled);
        assert_eq!(s.service_name, "unknown_service");
        for signal in [&s.traces, &s.metrics, &s.logs] {
            assert_eq!(signal.exporter, Exporter::Otlp);
            assert_eq!(signal.protocol, Protocol::HttpProtobuf);
        }
        assert_eq!(s.traces.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(s.temporality, Temporality::Cumulative);
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.log_filter, "info");
        assert_eq!(s.flush_mode, FlushMode::AfterResponse);
        assert_eq!(s.flush_timeout, Duration::from_millis(200));
        assert_eq!(s.xray_sampled, XraySampled::Ignore);
        assert_eq!(
            *s.propagators,
            [Propagator::TraceContext, Propagator::Baggage]
        );
        assert_eq!(
            s.redacted_query_keys.len(),
            env::DEFAULT_REDACTED_QUERY_KEYS.len()
        );
        assert!(s.event_extraction);
        assert!(s.cold_start_possible);
        assert_eq!(s.xray_daemon_address.to_string(), "127.0.0.1:2000");
        assert_eq!(s.emf_namespace, "unknown_service");
    }

    #[test]
    fn the_aws_native_route() {
        let s = resolve(&[
            ("OTEL_TRACES_EXPORTER", "xray"),
            ("OTEL_METRICS_EXPORTER", "emf"),
            (
                "AWS_XRAY_DAEMON_ADDRESS",
                "udp:169.254.79.129:2000 tcp:169.254.79.129:2000",
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", "dice-roller"),
        ])
        .expect("valid");
        assert_eq!(s.traces.exporter, Exporter::Xray);
        assert_eq!(s.metrics.exporter, Exporter::Emf);
        assert_eq!(s.xray_daemon_address.to_string(), "169.254.79.129:2000");
        // X-Ray as the backend: X-Ray's sampling decision is followed unless told otherwise.
        assert_eq!(s.xray_sampled, XraySampled::Honor);
        assert_eq!(s.emf_namespace, "dice-roller");
        let s = resolve(&[
            ("OTEL_TRACES_EXPORTER", "xray"),
            ("LAMBDA_OTEL_XRAY_SAMPLED", "ignore"),
            ("LAMBDA_OTEL_EMF_NAMESPACE", "Dice"),
        ])
        .expect("valid");
        assert_eq!(s.xray_sampled, XraySampled::Ignore);
        assert_eq!(s.emf_namespace, "Dice");
        // A bad daemon address matters only to the X-Ray exporter.
        assert!(resolve(&[("AWS_XRAY_DAEMON_ADDRESS", "nowhere")]).is_ok());
        let err = resolve(&[
            ("OTEL_TRACES_EXPORTER", "xray"),
            ("AWS_XRAY_DAEMON_ADDRESS", "nowhere"),
        ])
        .expect_err("bad address")
        .to_string();
        assert!(err.contains("AWS_XRAY_DAEMON_ADDRESS"), "{err}");
        // A service name CloudWatch would refuse still gives a namespace.
        let s = resolve(&[("OTEL_SERVICE_NAME", "AWS/x:y")]).expect("valid");
        assert_eq!(s.emf_namespace, "AWS_x_y");
    }

    #[test]
    fn an_exporter_set_in_code_for_the_wrong_signal_is_an_error() {
        let overrides = Overrides {
            metrics: SignalOverrides {
                exporter: Some(Exporter::Xray),
                ..SignalOverrides::default()
            },
            ..Overrides::default()
        };
        let err = resolve_with(overrides, &[])
            .expect_err("xray is for traces")
            .to_string();
        assert!(err.contains("OTEL_METRICS_EXPORTER"), "{err}");
        assert!(err.contains("`otlp`, `emf`, `console` or `none`"), "{err}");
    }

    #[test]
    fn propagation_settings_from_the_environment() {
        let s = resolve(&[
            ("OTEL_PROPAGATORS", "xray-lambda, tracecontext"),
            ("LAMBDA_OTEL_REDACTED_QUERY_KEYS", "Session , pin"),
            ("LAMBDA_OTEL_EVENT_EXTRACTION", "OFF"),
        ])
        .expect("valid");
        assert_eq!(
            *s.propagators,
            [Propagator::XrayLambda, Propagator::TraceContext]
        );
        assert_eq!(
            *s.redacted_query_keys,
            ["session".into(), "pin".into()] as [Box<str>; 2],
            "the list replaces the default one"
        );
        assert!(!s.event_extraction);
        let none = resolve(&[("OTEL_PROPAGATORS", "none")]).expect("valid");
        assert!(none.propagators.is_empty());
    }

    #[test]
    fn propagation_settings_from_code_win_over_the_environment() {
        let code = Overrides {
            propagators: Some(vec![
                Propagator::Xray,
                Propagator::Baggage,
                Propagator::Xray,
            ]),
            redacted_query_keys: Some(Vec::new()),
            event_extraction: Some(true),
            ..Overrides::default()
        };
        let s = resolve_with(
            code,
            &[
                ("OTEL_PROPAGATORS", "tracecontext"),
                ("LAMBDA_OTEL_REDACTED_QUERY_KEYS", "session"),
                ("LAMBDA_OTEL_EVENT_EXTRACTION", "off"),
            ],
        )
        .expect("valid");
        assert_eq!(*s.propagators, [Propagator::Xray, Propagator::Baggage]);
        assert!(s.redacted_query_keys.is_empty(), "code may redact nothing");
        assert!(s.event_extraction);
    }

    #[test]
    fn service_name_precedence() {
        let fn_name = ("AWS_LAMBDA_FUNCTION_NAME", "my-fn");
        assert_eq!(resolve(&[fn_name]).expect("valid").service_name, "my-fn");
        let attrs = (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,team=dice",
        );
        let s = resolve(&[fn_name, attrs]).expect("valid");
        assert_eq!(s.service_name, "from-attrs");
        assert_eq!(s.resource_attributes, [("team".into(), "dice".into())]);
        let env_name = ("OTEL_SERVICE_NAME", "from-env");
        assert_eq!(
            resolve(&[fn_name, attrs, env_name])
                .expect("valid")
                .service_name,
            "from-env"
        );
        let code = Overrides {
            service_name: Some("from-code".into()),
            ..Overrides::default()
        };
        let s = resolve_with(code, &[fn_name, attrs, env_name]).expect("valid");
        assert_eq!(s.service_name, "from-code");
    }

    #[test]
    fn a_rust_log_it_cannot_apply_is_an_error_naming_it() {
        for bad in ["dice_roller[roll]=debug", "info,dice_roller=loud"] {
            let message = resolve(&[("RUST_LOG", bad)]).expect_err(bad).to_string();
            assert!(message.contains("for RUST_LOG"), "{message}");
            assert!(message.contains("target=level"), "{message}");
        }
        let ok = resolve(&[("RUST_LOG", "warn,dice_roller=debug,hyper=off")]).expect("valid");
        assert_eq!(ok.log_filter, "warn,dice_roller=debug,hyper=off");
    }

    #[test]
    fn log_settings_follow_lambda_and_rust_log_wins() {
        let s = resolve(&[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        ])
        .expect("valid");
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.log_filter, "warn");
        assert_eq!(s.temporality, Temporality::Delta);
        let s = resolve(&[
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "info,dice_roller=debug"),
        ])
        .expect("valid");
        assert_eq!(s.log_filter, "info,dice_roller=debug");
        let code = Overrides {
            log_format: Some(LogFormat::Text),
            temporality: Some(Temporality::Cumulative),
            ..Overrides::default()
        };
        let s = resolve_with(
            code,
            &[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
            ],
        )
        .expect("valid");
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.temporality, Temporality::Cumulative);
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let s = resolve(&[
            ("OTEL_TRACES_EXPORTER", ""),
            ("LAMBDA_OTEL_FLUSH", " "),
            ("OTEL_PROPAGATORS", ""),
            ("LAMBDA_OTEL_EVENT_EXTRACTION", ""),
            ("LAMBDA_OTEL_REDACTED_QUERY_KEYS", " "),
        ])
        .expect("valid");
        assert_eq!(s.traces.exporter, Exporter::Otlp);
        assert_eq!(s.flush_mode, FlushMode::AfterResponse);
        assert_eq!(*s.propagators, *env::DEFAULT_PROPAGATORS);
        assert!(s.event_extraction);
        let defaults = resolve(&[]).expect("valid").redacted_query_keys;
        assert_eq!(s.redacted_query_keys, defaults);
        let commas = resolve(&[("LAMBDA_OTEL_REDACTED_QUERY_KEYS", " , ")]).expect("valid");
        assert_eq!(
            commas.redacted_query_keys, defaults,
            "a list naming no key is unset, not empty"
        );
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        for (var, value) in [
            ("OTEL_SDK_DISABLED", "maybe"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "file"),
            ("AWS_LAMBDA_LOG_FORMAT", "xml"),
            ("AWS_LAMBDA_LOG_LEVEL", "loud"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "weekly",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("LAMBDA_OTEL_FLUSH", "never"),
            ("LAMBDA_OTEL_FLUSH_TIMEOUT_MS", "soon"),
            ("LAMBDA_OTEL_XRAY_SAMPLED", "maybe"),
            ("OTEL_RESOURCE_ATTRIBUTES", "no-equals-sign"),
            ("OTEL_PROPAGATORS", "b3"),
            ("LAMBDA_OTEL_EVENT_EXTRACTION", "maybe"),
            ("LAMBDA_OTEL_EMF_NAMESPACE", "AWS/Lambda"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000001"),
        ] {
            let err = resolve(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(var) && err.contains(value), "{err}");
        }
    }

    #[test]
    fn provisioned_and_restored_environments_are_never_cold() {
        for init in [
            "provisioned-concurrency",
            "snap-start",
            "lambda-managed-instances",
        ] {
            let s = resolve(&[("AWS_LAMBDA_INITIALIZATION_TYPE", init)]).expect("valid");
            assert!(!s.cold_start_possible, "{init}");
        }
        let s = resolve(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")]).expect("valid");
        assert!(s.cold_start_possible);
    }

    #[test]
    fn a_flush_timeout_set_in_code_is_checked_as_the_variable_is() {
        for bad in [
            Duration::MAX,
            Duration::ZERO,
            Duration::from_micros(999),
            Duration::from_millis(60_001),
        ] {
            let code = Overrides {
                flush_timeout: Some(bad),
                ..Overrides::default()
            };
            let err = resolve_with(code, &[])
                .expect_err("out of range")
                .to_string();
            assert!(err.contains("with_flush_timeout"), "{err}");
            assert!(err.contains("LAMBDA_OTEL_FLUSH_TIMEOUT_MS"), "{err}");
            assert!(err.contains("from 1 ms to 60 s"), "{err}");
        }
        for good in [Duration::from_millis(1), Duration::from_secs(60)] {
            let code = Overrides {
                flush_timeout: Some(good),
                ..Overrides::default()
            };
            assert_eq!(resolve_with(code, &[]).expect("valid").flush_timeout, good);
        }
    }

    #[test]
    fn queue_sizes_code_over_env_over_default() {
        let s = resolve(&[]).expect("valid");
        assert_eq!((s.span_queue_size, s.log_queue_size), (2048, 2048));
        let env = [
            ("OTEL_BSP_MAX_QUEUE_SIZE", " 100 "),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000000"),
        ];
        let s = resolve(&env).expect("valid");
        assert_eq!((s.span_queue_size, s.log_queue_size), (100, 1_000_000));
        let code = Overrides {
            span_queue_size: Some(7),
            log_queue_size: Some(9),
            ..Overrides::default()
        };
        let s = resolve_with(code, &env).expect("valid");
        assert_eq!((s.span_queue_size, s.log_queue_size), (7, 9));
        for (code, setter) in [
            (
                Overrides {
                    span_queue_size: Some(0),
                    ..Overrides::default()
                },
                "with_span_queue_size (OTEL_BSP_MAX_QUEUE_SIZE)",
            ),
            (
                Overrides {
                    log_queue_size: Some(usize::MAX),
                    ..Overrides::default()
                },
                "with_log_queue_size (OTEL_BLRP_MAX_QUEUE_SIZE)",
            ),
        ] {
            let err = resolve_with(code, &[]).expect_err(setter).to_string();
            assert!(err.contains(setter), "{err}");
            assert!(err.contains("from 1 to 1000000"), "{err}");
        }
    }

    #[test]
    fn attribute_value_length_limit_code_over_span_variable_over_generic_over_default() {
        let limit = |code: Option<usize>, env: &[(&str, &str)]| {
            let code = Overrides {
                attribute_value_length_limit: code,
                ..Overrides::default()
            };
            resolve_with(code, env).map(|s| s.span_attribute_value_length_limit)
        };
        let generic = ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100");
        let span = ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "50");
        assert_eq!(limit(None, &[]).expect("valid"), 4096);
        assert_eq!(limit(None, &[generic]).expect("valid"), 100);
        assert_eq!(limit(None, &[generic, span]).expect("valid"), 50);
        assert_eq!(limit(Some(7), &[generic, span]).expect("valid"), 7);
        for bad in ["0", "-1", "1000001", "4k"] {
            let err = limit(None, &[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", bad)])
                .expect_err(bad)
                .to_string();
            assert!(err.contains("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"), "{err}");
            assert!(err.contains("from 1 to 1000000"), "{err}");
        }
        let err = limit(Some(0), &[]).expect_err("zero").to_string();
        assert!(err.contains("with_attribute_value_length_limit"), "{err}");
    }

    #[test]
    fn the_export_timeout_is_bounded_by_the_flush_timeout() {
        let timeouts = |vars: &[(&str, &str)]| {
            let s = resolve(vars).expect("valid");
            [s.traces.timeout, s.metrics.timeout, s.logs.timeout].map(|t| t.as_millis())
        };
        assert_eq!(timeouts(&[]), [200; 3], "unset: the flush timeout");
        assert_eq!(
            timeouts(&[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "50"),
                ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "30"),
            ]),
            [30, 50, 50]
        );
        assert_eq!(
            timeouts(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10000")]),
            [200; 3],
            "never longer than the flush"
        );
        assert_eq!(
            timeouts(&[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"),
                ("LAMBDA_OTEL_FLUSH_TIMEOUT_MS", "1500"),
            ]),
            [1500; 3]
        );
    }

    #[test]
    fn compression_is_none_or_an_error_naming_the_variable_and_the_feature() {
        assert!(resolve(&[("OTEL_EXPORTER_OTLP_COMPRESSION", " NONE ")]).is_ok());
        let err = resolve(&[("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip")])
            .expect_err("no gzip in this build")
            .to_string();
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"),
            "{err}"
        );
        assert!(err.contains("`gzip-http`"), "{err}");
        let each_none = [
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "none"),
        ];
        assert!(
            resolve(&each_none).is_ok(),
            "the signal's variable wins over the generic one"
        );
        let unused = [
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ];
        assert!(resolve(&unused).is_ok(), "checked only for OTLP");
    }
}
