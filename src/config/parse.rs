//! Parsers for the values of the settings: each names its variable and the accepted values.

use super::{Exporter, FlushMode, LogFormat, Propagator, Signal, XraySampled, env};
use crate::Error;
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::Sampler;
use std::net::SocketAddr;
use std::time::Duration;

mod otlp;

pub(super) use otlp::{
    compression, endpoint, export_timeout, grpc_header, header, headers, protocol, shown,
};

pub(super) fn bool_flag(variable: &'static str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::invalid(variable, value, "`true` or `false`")),
    }
}

pub(super) fn flush_mode(variable: &'static str, value: &str) -> Result<FlushMode, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "after-response" => Ok(FlushMode::AfterResponse),
        "before-response" => Ok(FlushMode::BeforeResponse),
        _ => Err(Error::invalid(
            variable,
            value,
            "`after-response` or `before-response`",
        )),
    }
}

pub(super) fn flush_timeout(variable: &'static str, value: &str) -> Result<Duration, Error> {
    match value.trim().parse::<u64>() {
        Ok(ms @ 1..=60_000) => Ok(Duration::from_millis(ms)),
        _ => Err(Error::invalid(
            variable,
            value,
            "a whole number of milliseconds from 1 to 60000",
        )),
    }
}

/// What a code-set duration shows of the flush timeout's range.
const FLUSH_TIMEOUT_RANGE: &str = "a duration from 1 ms to 60 s";

/// A flush timeout set in code, held to the variable's range (`setter` names the setter):
/// `Duration::MAX` would overflow the deadline arithmetic on first use, and zero would fail
/// every export.
pub(super) fn flush_timeout_in_code(
    setter: &'static str,
    timeout: Duration,
) -> Result<Duration, Error> {
    if (Duration::from_millis(1)..=Duration::from_millis(60_000)).contains(&timeout) {
        Ok(timeout)
    } else {
        Err(Error::invalid(
            setter,
            format_args!("{timeout:?}"),
            FLUSH_TIMEOUT_RANGE,
        ))
    }
}

/// The longest metric export interval: a day.
#[cfg(feature = "metrics")]
const MAX_EXPORT_INTERVAL: Duration = Duration::from_secs(86_400);

/// `OTEL_METRIC_EXPORT_INTERVAL`: 0 to 86,400,000 ms.
#[cfg(feature = "metrics")]
pub(super) fn export_interval(variable: &'static str, value: &str) -> Result<Duration, Error> {
    match value.trim().parse::<u64>() {
        Ok(ms) if Duration::from_millis(ms) <= MAX_EXPORT_INTERVAL => Ok(Duration::from_millis(ms)),
        _ => Err(Error::invalid(
            variable,
            value,
            "a whole number of milliseconds from 0 to 86400000",
        )),
    }
}

/// A metric export interval set in code, held to the variable's range.
#[cfg(feature = "metrics")]
pub(super) fn export_interval_in_code(
    setter: &'static str,
    interval: Duration,
) -> Result<Duration, Error> {
    if interval <= MAX_EXPORT_INTERVAL {
        Ok(interval)
    } else {
        Err(Error::invalid(
            setter,
            format_args!("{interval:?}"),
            "a duration of at most a day (24 h)",
        ))
    }
}

const QUEUE_SIZES: &str = "a whole number from 1 to 1000000";

/// `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE`: 1 to 1,000,000 items.
pub(super) fn queue_size(variable: &'static str, value: &str) -> Result<usize, Error> {
    match value.trim().parse::<usize>() {
        Ok(size @ 1..=1_000_000) => Ok(size),
        _ => Err(Error::invalid(variable, value, QUEUE_SIZES)),
    }
}

const LENGTH_LIMITS: &str = "a whole number of bytes from 1 to 1000000";

/// `OTEL_*ATTRIBUTE_VALUE_LENGTH_LIMIT`: 1 byte to 1,000,000 bytes.
pub(super) fn length_limit(variable: &'static str, value: &str) -> Result<usize, Error> {
    match value.trim().parse::<usize>() {
        Ok(limit @ 1..=1_000_000) => Ok(limit),
        _ => Err(Error::invalid(variable, value, LENGTH_LIMITS)),
    }
}

/// A length limit set in code, held to its variable's range (`setter` names the setter).
pub(super) fn length_limit_in_code(setter: &'static str, limit: usize) -> Result<usize, Error> {
    match limit {
        1..=1_000_000 => Ok(limit),
        _ => Err(Error::invalid(setter, limit, LENGTH_LIMITS)),
    }
}

/// A queue size set in code, held to its variable's range (`setter` names the setter).
pub(super) fn queue_size_in_code(setter: &'static str, size: usize) -> Result<usize, Error> {
    match size {
        1..=1_000_000 => Ok(size),
        _ => Err(Error::invalid(setter, size, QUEUE_SIZES)),
    }
}

pub(super) fn xray_sampled(variable: &'static str, value: &str) -> Result<XraySampled, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "ignore" => Ok(XraySampled::Ignore),
        "honor" | "honour" => Ok(XraySampled::Honor),
        _ => Err(Error::invalid(variable, value, "`ignore` or `honor`")),
    }
}

pub(super) fn on_off(variable: &'static str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Error::invalid(variable, value, "`on` or `off`")),
    }
}

/// `OTEL_PROPAGATORS`: names in order, duplicates dropped; `none` alone is the empty list.
pub(super) fn propagators(variable: &'static str, value: &str) -> Result<Vec<Propagator>, Error> {
    const EXPECTED: &str = "a comma-separated list of `tracecontext`, `baggage`, `xray` and \
                            `xray-lambda`, or `none` alone";
    let invalid = |value: &str| Error::invalid(variable, value, EXPECTED);
    let mut list = Vec::new();
    let mut none = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let propagator = match name.to_ascii_lowercase().as_str() {
            "tracecontext" => Propagator::TraceContext,
            "baggage" => Propagator::Baggage,
            "xray" => Propagator::Xray,
            "xray-lambda" => Propagator::XrayLambda,
            "none" => {
                none = true;
                continue;
            }
            _ => return Err(invalid(name)),
        };
        list.push(propagator);
    }
    let list = unique(list);
    match (none, list.is_empty()) {
        (true, true) | (false, false) => Ok(list),
        // `none` beside a propagator contradicts itself; a list of commas names nothing.
        (true, false) | (false, true) => Err(invalid(value)),
    }
}

/// `list` in order, without its duplicates (a second `tracecontext` could only repeat the first).
pub(super) fn unique(list: impl IntoIterator<Item = Propagator>) -> Vec<Propagator> {
    let mut unique = Vec::new();
    for propagator in list {
        if !unique.contains(&propagator) {
            unique.push(propagator);
        }
    }
    unique
}

/// A list of query-string keys: trimmed, lower-case, without empty members or duplicates.
pub(super) fn query_keys<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> Vec<Box<str>> {
    let mut list: Vec<Box<str>> = Vec::new();
    for key in keys {
        let key = key.as_ref().trim();
        if !key.is_empty() && !list.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            list.push(key.to_ascii_lowercase().into());
        }
    }
    list
}

/// The exporter variables are lists in the spec; this crate exports each signal to one place,
/// the first. `xray` is accepted for traces only and `emf` for metrics only.
pub(super) fn exporter(
    signal: Signal,
    variable: &'static str,
    value: &str,
) -> Result<Exporter, Error> {
    let first = value.split(',').next().unwrap_or(value);
    let exporter = match first.trim().to_ascii_lowercase().as_str() {
        "otlp" => Some(Exporter::Otlp),
        "xray" => Some(Exporter::Xray),
        "emf" => Some(Exporter::Emf),
        "console" => Some(Exporter::Console),
        "none" => Some(Exporter::None),
        _ => None,
    };
    exporter
        .filter(|e| signal.accepts(*e))
        .ok_or_else(|| Error::invalid(variable, first, signal.accepted_exporters()))
}

/// An exporter set in code for `signal` (`setter` names the setter): `xray` for traces only,
/// `emf` for metrics only, as [`exporter`] reads the variable.
pub(super) fn exporter_in_code(
    signal: Signal,
    setter: &'static str,
    exporter: Exporter,
) -> Result<Exporter, Error> {
    if signal.accepts(exporter) {
        return Ok(exporter);
    }
    let value = format!("{exporter:?}").to_ascii_lowercase();
    Err(Error::invalid(setter, value, signal.accepted_exporters()))
}

/// `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or Lambda's `udp:host:port tcp:host:port` (the UDP
/// address is the one segment documents go to). A host name is resolved once, here.
pub(super) fn xray_daemon_address(
    variable: &'static str,
    value: &str,
) -> Result<SocketAddr, Error> {
    const EXPECTED: &str =
        "`host:port` or `udp:host:port tcp:host:port`, for example `127.0.0.1:2000`";
    let invalid = || Error::invalid(variable, value, EXPECTED);
    let mut udp = None;
    for part in value.split_whitespace() {
        let (scheme, address) = match part.split_once(':') {
            Some((s, rest)) if s.eq_ignore_ascii_case("udp") || s.eq_ignore_ascii_case("tcp") => {
                (Some(s.to_ascii_lowercase()), rest)
            }
            _ => (None, part),
        };
        match scheme.as_deref() {
            Some("tcp") => {}
            _ if udp.is_some() => return Err(invalid()),
            _ => udp = Some(address),
        }
    }
    let address = udp.ok_or_else(invalid)?;
    if let Ok(parsed) = address.parse::<SocketAddr>() {
        return Ok(parsed);
    }
    // A host name (`localhost:2000`); a port is required either way.
    let (host, port) = address.rsplit_once(':').ok_or_else(invalid)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(invalid());
    }
    std::net::ToSocketAddrs::to_socket_addrs(address)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(invalid)
}

/// `LAMBDA_OTEL_EMF_NAMESPACE`: CloudWatch's namespace rules (1 to 255 characters, no `:` and
/// not starting with `AWS/`, printable ASCII).
#[cfg(feature = "metrics")]
pub(super) fn emf_namespace(variable: &'static str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    let valid = (1..=255).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !value.contains(':')
        && !value.starts_with("AWS/");
    if valid {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            variable,
            value,
            "1 to 255 printable ASCII characters, without `:`, not starting with `AWS/`",
        ))
    }
}

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, as the OTLP exporter spec defines it.
#[cfg(feature = "metrics")]
pub(super) fn temporality(variable: &'static str, value: &str) -> Result<Temporality, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "cumulative" => Ok(Temporality::Cumulative),
        "delta" => Ok(Temporality::Delta),
        "lowmemory" => Ok(Temporality::LowMemory),
        _ => Err(Error::invalid(
            variable,
            value,
            "`cumulative`, `delta` or `lowmemory`",
        )),
    }
}

pub(super) fn log_format(variable: &'static str, value: &str) -> Result<LogFormat, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(Error::invalid(variable, value, "`Text` or `JSON`")),
    }
}

/// `RUST_LOG`: a default level and `target=level` pairs, as `tracing_subscriber::filter::Targets`
/// reads them (span and field filters, which need a regex engine in the binary, are refused).
pub(super) fn log_filter(variable: &'static str, value: &str) -> Result<String, Error> {
    // `Targets` would take `crate[span]` as a target name that never matches.
    let span_filter = value.contains(['[', '{']);
    match value.parse::<tracing_subscriber::filter::Targets>() {
        Ok(_) if !span_filter => Ok(value.trim().to_owned()),
        _ => Err(Error::invalid(
            variable,
            value,
            "comma-separated `level` or `target=level` directives, levels `trace`, `debug`, `info`, `warn`, `error` or `off` (for example `info,my_crate=debug`)",
        )),
    }
}

/// The `level` of EMF lines for `AWS_LAMBDA_LOG_LEVEL` (accepted as [`log_level`] accepts
/// it): the lowest level Lambda's log-level filtering keeps, `INFO` unless the application
/// log level is above it.
#[cfg(feature = "metrics")]
pub(super) fn emf_level(variable: &'static str, value: &str) -> Result<&'static str, Error> {
    log_level(variable, value)?;
    Ok(match value.trim().to_ascii_uppercase().as_str() {
        "WARN" => "WARN",
        "ERROR" => "ERROR",
        "FATAL" => "FATAL",
        _ => "INFO",
    })
}

/// `AWS_LAMBDA_LOG_LEVEL` as a `tracing` filter directive; `FATAL` is `error`, the highest
/// level `tracing` has.
pub(super) fn log_level(variable: &'static str, value: &str) -> Result<&'static str, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "trace" => Ok("trace"),
        "debug" => Ok("debug"),
        "info" => Ok("info"),
        "warn" => Ok("warn"),
        "error" | "fatal" => Ok("error"),
        _ => Err(Error::invalid(
            variable,
            value,
            "`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`",
        )),
    }
}

/// The sampler named by `OTEL_TRACES_SAMPLER` (`variable`), with the ratio from
/// `OTEL_TRACES_SAMPLER_ARG`.
pub(super) fn sampler(
    variable: &'static str,
    name: &str,
    arg: Option<&str>,
) -> Result<Sampler, Error> {
    let ratio = || ratio(arg);
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
        "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
        }
        _ => {
            return Err(Error::invalid(
                variable,
                name,
                "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, \
                 `parentbased_always_off` or `parentbased_traceidratio`",
            ));
        }
    })
}

fn ratio(arg: Option<&str>) -> Result<f64, Error> {
    let Some(arg) = arg else { return Ok(1.0) };
    match arg.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(Error::invalid(
            env::OTEL_TRACES_SAMPLER_ARG,
            arg,
            "a number from 0 to 1",
        )),
    }
}

/// `key=value,key2=value2` with percent-encoded values, as in `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`. Empty members are skipped.
pub(super) fn key_values(
    variable: &'static str,
    value: &str,
) -> Result<Vec<(String, String)>, Error> {
    value
        .split(',')
        .filter(|member| !member.trim().is_empty())
        .map(|member| {
            let (key, val) = member
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| {
                    Error::invalid(variable, value, "comma-separated `key=value` pairs")
                })?;
            let val = percent_decode(val.trim())
                .ok_or_else(|| Error::invalid(variable, value, "percent-encoded UTF-8 values"))?;
            Ok((key.trim().to_owned(), val))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const XRAY: &str = env::AWS_XRAY_DAEMON_ADDRESS;
    #[cfg(feature = "metrics")]
    const TEMPORALITY: &str = env::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;

    #[test]
    fn errors_name_the_variable_and_the_accepted_values() {
        let err = exporter(Signal::Traces, env::OTEL_TRACES_EXPORTER, "jaeger")
            .expect_err("invalid")
            .to_string();
        assert!(err.contains("OTEL_TRACES_EXPORTER"), "{err}");
        assert!(err.contains("`otlp`, `xray`, `console` or `none`"), "{err}");
        let err = flush_timeout(env::LAMBDA_OTEL_FLUSH_TIMEOUT_MS, "0")
            .expect_err("invalid")
            .to_string();
        assert!(err.contains("LAMBDA_OTEL_FLUSH_TIMEOUT_MS"), "{err}");
        let err = sampler(env::OTEL_TRACES_SAMPLER, "traceidratio", Some("1.5"))
            .expect_err("invalid")
            .to_string();
        assert!(err.contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
    }

    #[test]
    fn exporters_are_checked_against_their_signal() {
        assert_eq!(
            exporter(Signal::Traces, env::OTEL_TRACES_EXPORTER, " XRay ").ok(),
            Some(Exporter::Xray)
        );
        assert_eq!(
            exporter(Signal::Metrics, env::OTEL_METRICS_EXPORTER, "emf").ok(),
            Some(Exporter::Emf)
        );
        let err =
            exporter(Signal::Metrics, env::OTEL_METRICS_EXPORTER, "xray").expect_err("traces only");
        assert!(
            err.to_string()
                .contains("OTEL_METRICS_EXPORTER: expected `otlp`, `emf`, `console` or `none`"),
            "{err}"
        );
        let err = exporter(Signal::Logs, env::OTEL_LOGS_EXPORTER, "emf").expect_err("metrics only");
        assert!(
            err.to_string()
                .contains("OTEL_LOGS_EXPORTER: expected `otlp`, `console` or `none`"),
            "{err}"
        );
    }

    #[test]
    fn xray_daemon_addresses_in_every_form_lambda_uses() {
        let expected: SocketAddr = "169.254.79.129:2000".parse().expect("address");
        assert_eq!(
            xray_daemon_address(XRAY, "169.254.79.129:2000").ok(),
            Some(expected)
        );
        assert_eq!(
            xray_daemon_address(XRAY, "tcp:169.254.79.129:2000 udp:169.254.79.129:2000").ok(),
            Some(expected)
        );
        assert_eq!(
            xray_daemon_address(XRAY, "udp:169.254.79.129:2000 tcp:127.0.0.1:2001").ok(),
            Some(expected)
        );
        let localhost = xray_daemon_address(XRAY, "localhost:2000").expect("resolved");
        assert!(localhost.ip().is_loopback() && localhost.port() == 2000);
        for bad in [
            "2000",
            "127.0.0.1",
            "127.0.0.1:99999",
            "tcp:127.0.0.1:2000",
            ":2000",
            "a:1 b:2",
        ] {
            let err = xray_daemon_address(XRAY, bad).expect_err(bad).to_string();
            assert!(err.contains("AWS_XRAY_DAEMON_ADDRESS"), "{err}");
            assert!(err.contains("udp:host:port"), "{err}");
        }
    }

    #[test]
    #[cfg(feature = "metrics")]
    fn emf_namespaces_follow_cloudwatch_rules() {
        let var = env::LAMBDA_OTEL_EMF_NAMESPACE;
        assert_eq!(
            emf_namespace(var, " dice-roller ").ok().as_deref(),
            Some("dice-roller")
        );
        for bad in ["AWS/Lambda", "a:b", "caf\u{e9}", &"x".repeat(256)] {
            let err = emf_namespace(var, bad).expect_err(bad).to_string();
            assert!(err.contains("LAMBDA_OTEL_EMF_NAMESPACE"), "{err}");
        }
    }

    #[test]
    #[cfg(feature = "metrics")]
    fn lambda_log_settings_and_temporality() {
        assert_eq!(
            log_format(env::AWS_LAMBDA_LOG_FORMAT, " JSON ").ok(),
            Some(LogFormat::Json)
        );
        assert_eq!(
            log_format(env::AWS_LAMBDA_LOG_FORMAT, "Text").ok(),
            Some(LogFormat::Text)
        );
        assert_eq!(
            log_level(env::AWS_LAMBDA_LOG_LEVEL, "FATAL").ok(),
            Some("error")
        );
        assert_eq!(
            log_level(env::AWS_LAMBDA_LOG_LEVEL, "Debug").ok(),
            Some("debug")
        );
        assert_eq!(
            temporality(TEMPORALITY, "Delta").ok(),
            Some(Temporality::Delta)
        );
        assert_eq!(
            temporality(TEMPORALITY, "lowmemory").ok(),
            Some(Temporality::LowMemory)
        );
        for (err, variable) in [
            (
                log_format(env::AWS_LAMBDA_LOG_FORMAT, "yaml").err(),
                "AWS_LAMBDA_LOG_FORMAT",
            ),
            (
                log_level(env::AWS_LAMBDA_LOG_LEVEL, "verbose").err(),
                "AWS_LAMBDA_LOG_LEVEL",
            ),
            (
                temporality(TEMPORALITY, "monthly").err(),
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            ),
        ] {
            let err = err.expect("invalid").to_string();
            assert!(
                err.contains(variable) && err.contains("expected `"),
                "{err}"
            );
        }
    }

    #[test]
    fn values_are_case_insensitive_and_trimmed() {
        assert_eq!(
            flush_mode(env::LAMBDA_OTEL_FLUSH, " Before-Response ").ok(),
            Some(FlushMode::BeforeResponse)
        );
        assert_eq!(
            protocol("X", "HTTP/JSON").ok(),
            Some(crate::config::Protocol::HttpJson)
        );
        assert_eq!(bool_flag("X", "TRUE").ok(), Some(true));
    }

    #[test]
    fn samplers_map_to_the_sdk() {
        assert!(matches!(
            sampler(env::OTEL_TRACES_SAMPLER, "always_off", None),
            Ok(Sampler::AlwaysOff)
        ));
        let parent_based = sampler(
            env::OTEL_TRACES_SAMPLER,
            "parentbased_traceidratio",
            Some("0.25"),
        )
        .expect("valid");
        assert_eq!(
            format!("{parent_based:?}"),
            "ParentBased(TraceIdRatioBased(0.25))"
        );
        let ratio = sampler(env::OTEL_TRACES_SAMPLER, "traceidratio", None);
        assert!(matches!(ratio, Ok(Sampler::TraceIdRatioBased(r)) if r == 1.0));
    }

    #[test]
    fn every_propagator_name_is_accepted_in_any_case_with_spaces() {
        use Propagator::{Baggage, TraceContext, Xray, XrayLambda};
        let all = propagators(
            env::OTEL_PROPAGATORS,
            " TraceContext , BAGGAGE,xray,  Xray-Lambda ",
        )
        .expect("valid");
        assert_eq!(all, [TraceContext, Baggage, Xray, XrayLambda]);
        for p in all {
            assert_eq!(
                propagators(env::OTEL_PROPAGATORS, &p.to_string()).ok(),
                Some(vec![p]),
                "{p}"
            );
        }
        assert_eq!(
            propagators(env::OTEL_PROPAGATORS, "xray-lambda,tracecontext").ok(),
            Some(vec![XrayLambda, TraceContext]),
            "order is kept"
        );
        assert_eq!(
            propagators(env::OTEL_PROPAGATORS, "baggage,,baggage").ok(),
            Some(vec![Baggage]),
            "empty members and duplicates are dropped"
        );
        assert_eq!(
            propagators(env::OTEL_PROPAGATORS, " None ").ok(),
            Some(vec![])
        );
    }

    #[test]
    fn unknown_or_contradictory_propagators_are_errors() {
        for (value, shown) in [
            ("b3", "\"b3\""),
            ("tracecontext, jaeger", "\"jaeger\""),
            ("none,xray", "\"none,xray\""),
            (",", "\",\""),
        ] {
            let err = propagators(env::OTEL_PROPAGATORS, value)
                .expect_err(value)
                .to_string();
            assert!(
                err.contains("OTEL_PROPAGATORS") && err.contains(shown),
                "{err}"
            );
            assert!(
                err.contains(
                    "`tracecontext`, `baggage`, `xray` and `xray-lambda`, or `none` alone"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn query_keys_are_trimmed_lower_case_and_unique() {
        let keys = query_keys(" Sig ,,X-Amz-Signature,sig".split(','));
        assert_eq!(
            keys,
            ["sig".into(), "x-amz-signature".into()] as [Box<str>; 2]
        );
    }

    #[test]
    fn on_off_flags() {
        assert_eq!(on_off("X", " OFF ").ok(), Some(false));
        assert_eq!(on_off("X", "on").ok(), Some(true));
        let err = on_off("LAMBDA_OTEL_EVENT_EXTRACTION", "true")
            .expect_err("invalid")
            .to_string();
        assert!(err.contains("LAMBDA_OTEL_EVENT_EXTRACTION") && err.contains("`on` or `off`"));
    }

    #[test]
    fn key_values_are_percent_decoded() {
        let kv = key_values("X", "a=1, b = x%20y%2Cz ,,").expect("valid");
        assert_eq!(kv, [("a".into(), "1".into()), ("b".into(), "x y,z".into())]);
        assert!(key_values("X", "novalue").is_err());
        assert!(key_values("X", "k=%zz").is_err());
    }
}
