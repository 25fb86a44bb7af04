//! The precedence, defaults and refusals of every setting, through `Settings::resolve`.

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
    assert_eq!(s.metric_export_interval, Duration::from_secs(60));
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
    assert!(
        err.contains("TelemetryBuilder::with_metrics_exporter (OTEL_METRICS_EXPORTER)"),
        "{err}"
    );
    assert!(err.contains("`otlp`, `emf`, `console` or `none`"), "{err}");
}

#[test]
fn a_value_set_in_code_is_checked_as_its_variable_and_named_by_its_setter() {
    let code = Overrides {
        emf_namespace: Some("AWS/Lambda".into()),
        ..Overrides::default()
    };
    let err = resolve_with(code, &[("LAMBDA_OTEL_EMF_NAMESPACE", "Dice")])
        .expect_err("a reserved namespace")
        .to_string();
    assert!(
        err.contains("TelemetryBuilder::with_emf_namespace (LAMBDA_OTEL_EMF_NAMESPACE)"),
        "{err}"
    );
    let code = Overrides {
        emf_namespace: Some(" Dice ".into()),
        ..Overrides::default()
    };
    let s = resolve_with(code, &[("LAMBDA_OTEL_EMF_NAMESPACE", "AWS/Lambda")]);
    assert_eq!(s.expect("code wins").emf_namespace, "Dice");
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
fn the_deadline_guard_is_on_unless_switched_off() {
    assert!(resolve(&[]).expect("valid").deadline_guard);
    assert!(
        resolve(&[("LAMBDA_OTEL_DEADLINE_GUARD", "")])
            .expect("valid")
            .deadline_guard,
        "empty is unset"
    );
    let off = resolve(&[("LAMBDA_OTEL_DEADLINE_GUARD", " Off ")]).expect("valid");
    assert!(!off.deadline_guard);
    let code = Overrides {
        deadline_guard: Some(true),
        ..Overrides::default()
    };
    let s = resolve_with(code, &[("LAMBDA_OTEL_DEADLINE_GUARD", "off")]);
    assert!(s.expect("code wins").deadline_guard);
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
        ("LAMBDA_OTEL_DEADLINE_GUARD", "true"),
        ("LAMBDA_OTEL_EMF_NAMESPACE", "AWS/Lambda"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000001"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "86400001"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "-1"),
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
    let logs = |env: &[(&str, &str)]| {
        let s = resolve_with(Overrides::default(), env).expect("valid");
        (
            s.span_attribute_value_length_limit,
            s.log_attribute_value_length_limit,
        )
    };
    let log = ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "30");
    assert_eq!(logs(&[generic, span, log]), (50, 30), "each signal its own");
    assert_eq!(logs(&[generic, span]), (50, 100), "logs: the generic one");
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

#[test]
fn the_metric_export_interval_code_over_env_over_default() {
    let zero = resolve(&[("OTEL_METRIC_EXPORT_INTERVAL", "0")]).expect("valid");
    assert_eq!(zero.metric_export_interval, Duration::ZERO);
    let env = resolve(&[("OTEL_METRIC_EXPORT_INTERVAL", "5000")]).expect("valid");
    assert_eq!(env.metric_export_interval, Duration::from_secs(5));
    let code = Overrides {
        metric_export_interval: Some(Duration::from_secs(1)),
        ..Overrides::default()
    };
    let s = resolve_with(code, &[("OTEL_METRIC_EXPORT_INTERVAL", "5000")]).expect("valid");
    assert_eq!(s.metric_export_interval, Duration::from_secs(1));
    let too_long = Overrides {
        metric_export_interval: Some(Duration::from_secs(86_401)),
        ..Overrides::default()
    };
    let err = resolve_with(too_long, &[])
        .expect_err("over a day")
        .to_string();
    assert!(
        err.contains("TelemetryBuilder::with_metric_export_interval (OTEL_METRIC_EXPORT_INTERVAL)"),
        "{err}"
    );
}

/// EMF lines carry the lowest level Lambda's log-level filtering keeps: the application log
/// level above `INFO`, else `INFO` (a line without a level is read as `INFO`).
#[test]
fn emf_lines_take_lambda_s_application_log_level_above_info() {
    for (level, expected) in [
        (None, "INFO"),
        (Some("TRACE"), "INFO"),
        (Some("debug"), "INFO"),
        (Some("INFO"), "INFO"),
        (Some("WARN"), "WARN"),
        (Some("error"), "ERROR"),
        (Some("FATAL"), "FATAL"),
    ] {
        let vars: Vec<(&str, &str)> = level
            .map(|l| ("AWS_LAMBDA_LOG_LEVEL", l))
            .into_iter()
            .collect();
        let s = resolve(&vars).expect("valid");
        assert_eq!(s.emf_level, expected, "AWS_LAMBDA_LOG_LEVEL={level:?}");
    }
}
