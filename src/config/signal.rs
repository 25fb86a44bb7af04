//! The settings each signal (traces, metrics, logs) resolves the same way: its exporter and,
//! for OTLP, the protocol, endpoint, headers, compression and timeout.

use super::precedence::{Env, Setting, any_value};
use super::{Exporter, Protocol, env, parse};
use crate::Error;
use std::fmt;
use std::time::Duration;

/// The setters for every signal, as errors about their values name them.
const WITH_HEADER: &str = "TelemetryBuilder::with_header";
const WITH_PROTOCOL: &str = "TelemetryBuilder::with_protocol (OTEL_EXPORTER_OTLP_PROTOCOL)";
const WITH_OTLP_ENDPOINT: &str =
    "TelemetryBuilder::with_otlp_endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)";

/// One of the three OpenTelemetry signals, with the names of its variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Metrics => "metrics",
            Self::Logs => "logs",
        }
    }

    /// Whether `exporter` can export this signal (`xray` is for traces, `emf` for metrics).
    pub(crate) fn accepts(self, exporter: Exporter) -> bool {
        match exporter {
            Exporter::Xray => self == Self::Traces,
            Exporter::Emf => self == Self::Metrics,
            Exporter::Otlp | Exporter::Console | Exporter::None => true,
        }
    }

    /// The cargo feature this signal needs, when this build leaves it out: its exporter then
    /// defaults to `none`, and any other is an error naming the feature.
    pub(crate) fn missing_feature(self) -> Option<&'static str> {
        match self {
            Self::Metrics if cfg!(not(feature = "metrics")) => Some("metrics"),
            Self::Logs if cfg!(not(feature = "logs")) => Some("logs"),
            _ => None,
        }
    }

    /// The values of this signal's exporter variable, in words.
    pub(crate) fn accepted_exporters(self) -> &'static str {
        match self {
            Self::Traces => "`otlp`, `xray`, `console` or `none`",
            Self::Metrics => "`otlp`, `emf`, `console` or `none`",
            Self::Logs => "`otlp`, `console` or `none`",
        }
    }

    /// The builder method that sets this signal's exporter, and its variable.
    fn exporter_setter(self) -> &'static str {
        match self {
            Self::Traces => "TelemetryBuilder::with_traces_exporter (OTEL_TRACES_EXPORTER)",
            Self::Metrics => "TelemetryBuilder::with_metrics_exporter (OTEL_METRICS_EXPORTER)",
            Self::Logs => "TelemetryBuilder::with_logs_exporter (OTEL_LOGS_EXPORTER)",
        }
    }

    /// The builder method that sets this signal's full endpoint, and its variable.
    fn endpoint_setter(self) -> &'static str {
        match self {
            Self::Traces => {
                "TelemetryBuilder::with_traces_endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"
            }
            Self::Metrics => {
                "TelemetryBuilder::with_metrics_endpoint (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)"
            }
            Self::Logs => "TelemetryBuilder::with_logs_endpoint (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT)",
        }
    }

    pub(crate) fn exporter_var(self) -> &'static str {
        match self {
            Self::Traces => env::OTEL_TRACES_EXPORTER,
            Self::Metrics => env::OTEL_METRICS_EXPORTER,
            Self::Logs => env::OTEL_LOGS_EXPORTER,
        }
    }

    fn protocol_var(self) -> &'static str {
        match self {
            Self::Traces => env::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            Self::Metrics => env::OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
            Self::Logs => env::OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
        }
    }

    fn endpoint_var(self) -> &'static str {
        match self {
            Self::Traces => env::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            Self::Metrics => env::OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
            Self::Logs => env::OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
        }
    }

    fn headers_var(self) -> &'static str {
        match self {
            Self::Traces => env::OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            Self::Metrics => env::OTEL_EXPORTER_OTLP_METRICS_HEADERS,
            Self::Logs => env::OTEL_EXPORTER_OTLP_LOGS_HEADERS,
        }
    }

    fn compression_var(self) -> &'static str {
        match self {
            Self::Traces => env::OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
            Self::Metrics => env::OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
            Self::Logs => env::OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
        }
    }

    fn timeout_var(self) -> &'static str {
        match self {
            Self::Traces => env::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
            Self::Metrics => env::OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
            Self::Logs => env::OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
        }
    }

    /// The path appended to a base endpoint for OTLP/HTTP.
    fn http_path(self) -> &'static str {
        match self {
            Self::Traces => "/v1/traces",
            Self::Metrics => "/v1/metrics",
            Self::Logs => "/v1/logs",
        }
    }
}

/// Values set in code for every signal; `None` means "from the environment". Its `Debug`
/// (and so `TelemetryBuilder`'s) shows header names only and endpoints without credentials,
/// query or fragment.
#[derive(Clone, Default)]
pub(crate) struct OtlpOverrides {
    pub protocol: Option<Protocol>,
    /// Base endpoint, as `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// Values set in code for one signal.
#[derive(Clone, Default)]
pub(crate) struct SignalOverrides {
    pub exporter: Option<Exporter>,
    /// The full endpoint, used as is.
    pub endpoint: Option<String>,
}

/// Where one signal goes, resolved. Its `Debug` never shows a header's value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SignalSettings {
    pub exporter: Exporter,
    pub protocol: Protocol,
    /// The full endpoint (with `/v1/<signal>` for HTTP).
    pub endpoint: String,
    /// Checked, values decoded: sent as they are.
    pub headers: Vec<(String, String)>,
    /// The most one export request may take: the export timeout bounded by the flush timeout.
    pub timeout: Duration,
}

/// Header names, each value replaced: a header is where a token goes.
struct HeaderNames<'a>(&'a [(String, String)]);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "REDACTED")))
            .finish()
    }
}

impl fmt::Debug for OtlpOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpOverrides")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint.as_deref().map(parse::shown))
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

impl fmt::Debug for SignalOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalOverrides")
            .field("exporter", &self.exporter)
            .field("endpoint", &self.endpoint.as_deref().map(parse::shown))
            .finish()
    }
}

impl fmt::Debug for SignalSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalSettings")
            .field("exporter", &self.exporter)
            .field("protocol", &self.protocol)
            .field("endpoint", &parse::shown(&self.endpoint))
            .field("headers", &HeaderNames(&self.headers))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SignalSettings {
    /// Each setting by the one precedence rule: the signal's code setting > the code setting
    /// for every signal > the signal's variable > the generic variable > the default.
    /// `flush_timeout` bounds the export timeout.
    pub(super) fn resolve(
        signal: Signal,
        code: SignalOverrides,
        all: &OtlpOverrides,
        flush_timeout: Duration,
        env: Env<'_>,
    ) -> Result<Self, Error> {
        let exporter = exporter(signal, code.exporter, env)?;
        let protocol = env.resolve(Setting {
            code: all.protocol,
            setter: WITH_PROTOCOL,
            check: any_value,
            vars: &[signal.protocol_var(), env::OTEL_EXPORTER_OTLP_PROTOCOL],
            parse: parse::protocol,
            default: env::DEFAULT_PROTOCOL,
        })?;
        // Checked only when used, as the X-Ray daemon address: an OTLP setting is none of a
        // console exporter's business.
        let otlp = exporter == Exporter::Otlp;
        let endpoint = endpoint(signal, protocol, otlp, code.endpoint, all, env)?;
        let timeout = if otlp {
            export_timeout(signal, flush_timeout, env)?
        } else {
            flush_timeout
        };
        let grpc = otlp && protocol == Protocol::Grpc;
        Ok(Self {
            exporter,
            protocol,
            endpoint,
            headers: resolve_headers(signal, grpc, &all.headers, env)?,
            timeout,
        })
    }
}

/// The signal's exporter; `none` by default, and the only one accepted, when this build leaves
/// the signal out (the `metrics` or `logs` feature), so a traces-only build starts with no
/// variable set.
fn exporter(signal: Signal, code: Option<Exporter>, env: Env<'_>) -> Result<Exporter, Error> {
    let missing = signal.missing_feature();
    let variable = match code {
        Some(_) => signal.exporter_setter(),
        None => signal.exporter_var(),
    };
    let exporter = env.resolve(Setting {
        code,
        setter: signal.exporter_setter(),
        check: |setter, exporter| parse::exporter_in_code(signal, setter, exporter),
        vars: &[signal.exporter_var()],
        parse: |variable, value| parse::exporter(signal, variable, value),
        default: missing.map_or(env::DEFAULT_EXPORTER, |_| Exporter::None),
    })?;
    match missing {
        Some(feature) if exporter != Exporter::None => Err(Error::FeatureDisabled {
            variable,
            value: format!("{exporter:?}").to_ascii_lowercase(),
            feature,
        }),
        _ => Ok(exporter),
    }
}

/// The export timeout, bounded by `flush_timeout`. The compression is checked on the way:
/// only `none` is possible in this build, which is also what the exporters do unasked, so
/// there is nothing to hand them, only a value to refuse.
fn export_timeout(
    signal: Signal,
    flush_timeout: Duration,
    env: Env<'_>,
) -> Result<Duration, Error> {
    let compression = [
        signal.compression_var(),
        env::OTEL_EXPORTER_OTLP_COMPRESSION,
    ];
    env.read(&compression, parse::compression, ())?;
    let timeout = [signal.timeout_var(), env::OTEL_EXPORTER_OTLP_TIMEOUT];
    let export = env.read(&timeout, parse::export_timeout, flush_timeout)?;
    Ok(export.min(flush_timeout))
}

/// The signal's full endpoint, set in code (`full`) or by the signal's variable, else the base
/// endpoint, set in code (`all`) or by the generic variable, with the signal's path for HTTP.
/// When `check`, it must be a URL the exporter can use; errors name the setter or the variable
/// it came from and show the value as it was given, without the path added to a base.
fn endpoint(
    signal: Signal,
    protocol: Protocol,
    check: bool,
    full: Option<String>,
    all: &OtlpOverrides,
    env: Env<'_>,
) -> Result<String, Error> {
    let from = |source: &'static str, value: &str| {
        if check {
            check_endpoint(source, protocol, value)?;
        }
        Ok(match source {
            WITH_OTLP_ENDPOINT | env::OTEL_EXPORTER_OTLP_ENDPOINT => {
                signal_endpoint(signal, protocol, Some(value))
            }
            _ => value.to_owned(),
        })
    };
    let setter = match (&full, &all.endpoint) {
        (None, Some(_)) => WITH_OTLP_ENDPOINT,
        _ => signal.endpoint_setter(),
    };
    env.resolve(Setting {
        code: full.or_else(|| all.endpoint.clone()),
        setter,
        check: |setter, value: String| from(setter, &value),
        vars: &[signal.endpoint_var(), env::OTEL_EXPORTER_OTLP_ENDPOINT],
        parse: from,
        default: signal_endpoint(signal, protocol, None),
    })
}

/// An endpoint as given, checked for the protocol it is used with: a URL, and a scheme this
/// build can speak.
fn check_endpoint(source: &'static str, protocol: Protocol, endpoint: &str) -> Result<(), Error> {
    parse::endpoint(source, endpoint)?;
    match protocol {
        Protocol::Grpc => check_grpc_plain(source, endpoint),
        Protocol::HttpProtobuf | Protocol::HttpJson => check_tls(source, endpoint),
    }
}

fn is_https(endpoint: &str) -> bool {
    endpoint
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// An `https://` endpoint needs the `tls` feature: without it, the HTTP client only speaks
/// plain HTTP, and every export would fail at run time instead of here.
fn check_tls(variable: &'static str, endpoint: &str) -> Result<(), Error> {
    if is_https(endpoint) && !cfg!(feature = "tls") {
        return Err(Error::FeatureDisabled {
            variable,
            value: parse::shown(endpoint),
            feature: "tls",
        });
    }
    Ok(())
}

/// gRPC goes out through tonic, which lambda-otel builds without any of its TLS features (the
/// `tls` feature is rustls for OTLP/HTTP): an `https://` endpoint would fail when the exporter
/// is built, with a message that names no variable.
fn check_grpc_plain(variable: &'static str, endpoint: &str) -> Result<(), Error> {
    if is_https(endpoint) {
        return Err(Error::invalid(
            variable,
            parse::shown(endpoint),
            "an `http://` URL with the `grpc` protocol, which lambda-otel sends without TLS; \
             for HTTPS use `http/protobuf` with the `tls` cargo feature",
        ));
    }
    Ok(())
}

fn signal_endpoint(signal: Signal, protocol: Protocol, base: Option<&str>) -> String {
    match protocol {
        Protocol::Grpc => base.unwrap_or(env::DEFAULT_GRPC_ENDPOINT).to_owned(),
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let base = base.unwrap_or(env::DEFAULT_HTTP_ENDPOINT);
            // The signal's path goes at the end of the base's path, before a query or a
            // fragment (`http://c:4318/otlp?tenant=a` → `/otlp/v1/traces?tenant=a`).
            let (path, rest) = base
                .find(['?', '#'])
                .map_or((base, ""), |at| base.split_at(at));
            format!("{}{}{rest}", path.trim_end_matches('/'), signal.http_path())
        }
    }
}

/// Generic headers, then the signal's over them, then the code's over both: the precedence
/// rule, header by header (the variables are merged, as the OTLP exporter spec asks). Values
/// from the environment are percent-decoded once; values set in code are used as they are.
/// When `grpc`, each must also be valid gRPC metadata; errors name the variable or setter that
/// held the header.
fn resolve_headers(
    signal: Signal,
    grpc: bool,
    code: &[(String, String)],
    env: Env<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let grpc_check = |source: &'static str, headers: &[(String, String)]| {
        headers
            .iter()
            .filter(|_| grpc)
            .try_for_each(|(name, _)| parse::grpc_header(source, name))
    };
    let mut headers = Vec::new();
    for name in [env::OTEL_EXPORTER_OTLP_HEADERS, signal.headers_var()] {
        if let Some(v) = env.get(name) {
            let parsed = parse::headers(name, &v)?;
            grpc_check(name, &parsed)?;
            merge(&mut headers, parsed);
        }
    }
    for (index, (name, value)) in code.iter().enumerate() {
        parse::header(WITH_HEADER, index + 1, name, value)?;
    }
    grpc_check(WITH_HEADER, code)?;
    merge(&mut headers, code.to_vec());
    Ok(headers)
}

fn merge(into: &mut Vec<(String, String)>, from: Vec<(String, String)>) {
    for (k, v) in from {
        into.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&k));
        into.push((k, v));
    }
}

// Most of them resolve metrics and logs settings too.
#[cfg(all(test, feature = "metrics", feature = "logs"))]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(
        signal: Signal,
        code: SignalOverrides,
        all: &OtlpOverrides,
        vars: &[(&str, &str)],
    ) -> Result<SignalSettings, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let flush_timeout = Duration::from_millis(200);
        let lookup = move |k: &str| map.get(k).cloned();
        SignalSettings::resolve(signal, code, all, flush_timeout, Env::new(&lookup))
    }

    fn env_only(signal: Signal, vars: &[(&str, &str)]) -> SignalSettings {
        resolve(
            signal,
            SignalOverrides::default(),
            &OtlpOverrides::default(),
            vars,
        )
        .expect("valid")
    }

    #[test]
    fn an_https_endpoint_needs_tls_and_names_its_variable() {
        let cases = [
            (
                Signal::Traces,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "HTTPS://collector:4318"),
            ),
            (
                Signal::Metrics,
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "https://collector:4318/v1/metrics",
                ),
            ),
        ];
        for (signal, var) in cases {
            let result = resolve(
                signal,
                SignalOverrides::default(),
                &OtlpOverrides::default(),
                &[var],
            );
            if cfg!(feature = "tls") {
                assert!(result.is_ok(), "{result:?}");
            } else {
                let message = result.expect_err("no tls").to_string();
                assert!(message.starts_with(&format!("{}=", var.0)), "{message}");
                assert!(message.contains("`tls` cargo feature"), "{message}");
            }
        }
        let off = resolve(
            Signal::Logs,
            SignalOverrides::default(),
            &OtlpOverrides::default(),
            &[
                ("OTEL_LOGS_EXPORTER", "none"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
            ],
        );
        assert!(off.is_ok(), "a signal that is off needs no tls: {off:?}");
    }

    #[test]
    fn each_signal_has_its_own_path_under_the_base_endpoint() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/");
        for (signal, path) in [
            (Signal::Traces, "/v1/traces"),
            (Signal::Metrics, "/v1/metrics"),
            (Signal::Logs, "/v1/logs"),
        ] {
            assert_eq!(
                env_only(signal, &[]).endpoint,
                format!("http://localhost:4318{path}")
            );
            assert_eq!(
                env_only(signal, &[base]).endpoint,
                format!("http://collector:4318{path}")
            );
        }
    }

    /// The signal's path extends the base's path, never its query or fragment.
    #[test]
    fn a_base_endpoint_s_query_stays_after_the_signal_path() {
        for (base, expected) in [
            (
                "http://collector:4318/otlp/?tenant=a",
                "http://collector:4318/otlp/v1/traces?tenant=a",
            ),
            (
                "http://collector:4318?tenant=a#x",
                "http://collector:4318/v1/traces?tenant=a#x",
            ),
            (
                "http://collector:4318#x",
                "http://collector:4318/v1/traces#x",
            ),
        ] {
            let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", base)];
            assert_eq!(env_only(Signal::Traces, &vars).endpoint, expected, "{base}");
        }
    }

    #[test]
    fn endpoint_precedence() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/");
        let signal = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://x:1/custom");
        assert_eq!(
            env_only(Signal::Metrics, &[base, signal]).endpoint,
            "http://x:1/custom"
        );
        assert_eq!(
            env_only(Signal::Logs, &[base, signal]).endpoint,
            "http://collector:4318/v1/logs",
            "another signal's variable does not apply"
        );
        let all = OtlpOverrides {
            endpoint: Some("http://code:4318".into()),
            ..OtlpOverrides::default()
        };
        let from_code = resolve(
            Signal::Metrics,
            SignalOverrides::default(),
            &all,
            &[base, signal],
        );
        assert_eq!(
            from_code.expect("valid").endpoint,
            "http://code:4318/v1/metrics",
            "code wins over every variable"
        );
        let full = SignalOverrides {
            endpoint: Some("http://full/path".into()),
            ..SignalOverrides::default()
        };
        let from_code = resolve(Signal::Metrics, full, &all, &[base, signal]);
        assert_eq!(from_code.expect("valid").endpoint, "http://full/path");
        let grpc = ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
        assert_eq!(
            env_only(Signal::Logs, &[grpc]).endpoint,
            "http://localhost:4317"
        );
    }

    #[test]
    fn signal_protocol_wins_over_generic() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
        ];
        assert_eq!(env_only(Signal::Logs, &vars).protocol, Protocol::HttpJson);
        assert_eq!(env_only(Signal::Traces, &vars).protocol, Protocol::Grpc);
    }

    #[test]
    fn signal_headers_override_generic_ones() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=generic,x-team=dice"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "API-KEY=metrics"),
        ];
        assert_eq!(
            env_only(Signal::Metrics, &vars).headers,
            [
                ("x-team".into(), "dice".into()),
                ("API-KEY".into(), "metrics".into())
            ]
        );
        assert_eq!(env_only(Signal::Traces, &vars).headers.len(), 2);
    }

    #[test]
    fn exporters_per_signal() {
        let vars = [
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "otlp,console"),
        ];
        assert_eq!(env_only(Signal::Traces, &vars).exporter, Exporter::Console);
        assert_eq!(env_only(Signal::Metrics, &vars).exporter, Exporter::None);
        assert_eq!(env_only(Signal::Logs, &vars).exporter, Exporter::Otlp);
        assert_eq!(env_only(Signal::Logs, &[]).exporter, Exporter::Otlp);
        let err = resolve(
            Signal::Metrics,
            SignalOverrides::default(),
            &OtlpOverrides::default(),
            &[("OTEL_METRICS_EXPORTER", "prometheus")],
        )
        .expect_err("not supported")
        .to_string();
        assert!(
            err.contains("OTEL_METRICS_EXPORTER") && err.contains("prometheus"),
            "{err}"
        );
    }

    fn error(vars: &[(&str, &str)]) -> String {
        resolve(
            Signal::Traces,
            SignalOverrides::default(),
            &OtlpOverrides::default(),
            vars,
        )
        .expect_err("invalid")
        .to_string()
    }

    #[test]
    fn header_errors_name_the_variable_and_the_header_never_the_value() {
        let var = "OTEL_EXPORTER_OTLP_HEADERS";
        for (value, names) in [
            ("x-team=dice,Bearer s3cr3t", "header number 2 in"),
            ("Authorization: Bearer s3cr3t==", "`Authorization`"),
            ("api-key=", "`api-key`"),
            ("api-key=s3cr3t%zz", "`api-key`"),
            ("api-key=s3cr3t%0A", "`api-key`"),
            ("api-key=caf%C3%A9-s3cr3t", "`api-key`"),
        ] {
            let err = error(&[(var, value)]);
            assert!(err.contains(var) && err.contains(names), "{err}");
            assert!(!err.contains("s3cr3t"), "a secret in {err}");
        }
        let code = OtlpOverrides {
            headers: vec![("x-api-key".into(), "s3cr3t\n".into())],
            ..OtlpOverrides::default()
        };
        let err = resolve(Signal::Logs, SignalOverrides::default(), &code, &[])
            .expect_err("a newline")
            .to_string();
        assert!(err.contains("TelemetryBuilder::with_header"), "{err}");
        assert!(
            err.contains("`x-api-key`") && !err.contains("s3cr3t"),
            "{err}"
        );
    }

    #[test]
    fn header_values_are_percent_decoded_once_and_code_values_not_at_all() {
        let code = OtlpOverrides {
            headers: vec![("x-code".into(), "a%20b".into())],
            ..OtlpOverrides::default()
        };
        let vars = [(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20abc%2520",
        )];
        let headers = resolve(Signal::Traces, SignalOverrides::default(), &code, &vars)
            .expect("valid")
            .headers;
        assert_eq!(
            headers,
            [
                ("authorization".into(), "Bearer abc%20".into()),
                ("x-code".into(), "a%20b".into())
            ]
        );
    }

    #[test]
    fn endpoints_that_can_never_work_are_refused_naming_their_variable() {
        let var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
        for bad in [
            "ftp://collector:4318/v1/traces",
            "collector:4318",
            "http://collector:99999/v1/traces",
            "http://collector:0",
            "http://:4318",
            "http://",
            "http://[::1/v1/traces",
            "not a url",
            "http://exa mple:4318/v1/traces",
            "http://collector:4318/v1/tra\nces",
        ] {
            let err = error(&[(var, bad)]);
            assert!(err.contains(var), "{err}");
            assert!(err.contains("`http://` or `https://` URL"), "{err}");
        }
        for userinfo in [
            "http://user:s3cr3t@collector:4318/v1/traces",
            "user:s3cr3t@collector:4318",
        ] {
            let err = error(&[(var, userinfo)]);
            assert!(
                err.contains(var) && err.contains("REDACTED@collector"),
                "{err}"
            );
            assert!(!err.contains("s3cr3t"), "a secret in {err}");
        }
        let err = error(&[(var, "https://t0ken@collector/v1/traces")]);
        assert!(err.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{err}");
        for good in [
            "http://[::1]:4318/v1/traces",
            "HTTP://collector/v1/traces?x=1",
            "http://collector:65535",
        ] {
            let ok = resolve(
                Signal::Traces,
                SignalOverrides::default(),
                &OtlpOverrides::default(),
                &[(var, good)],
            );
            assert!(ok.is_ok(), "{good}: {ok:?}");
        }
        let code = OtlpOverrides {
            endpoint: Some("ftp://collector".into()),
            ..OtlpOverrides::default()
        };
        let err = resolve(Signal::Metrics, SignalOverrides::default(), &code, &[])
            .expect_err("ftp")
            .to_string();
        assert!(
            err.contains("TelemetryBuilder::with_otlp_endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)"),
            "{err}"
        );
        let full = SignalOverrides {
            endpoint: Some("collector:4318".into()),
            ..SignalOverrides::default()
        };
        let err = resolve(Signal::Logs, full, &OtlpOverrides::default(), &[])
            .expect_err("no scheme")
            .to_string();
        assert!(
            err.contains("TelemetryBuilder::with_logs_endpoint (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT)"),
            "{err}"
        );
        let base = OtlpOverrides {
            endpoint: Some("collector:4318".into()),
            ..OtlpOverrides::default()
        };
        let err = resolve(Signal::Traces, SignalOverrides::default(), &base, &[])
            .expect_err("no scheme")
            .to_string();
        assert!(
            err.contains(
                "invalid value \"collector:4318\" for TelemetryBuilder::with_otlp_endpoint"
            ),
            "the value as given, without the signal's path: {err}"
        );
        let off = [("OTEL_TRACES_EXPORTER", "none"), (var, "ftp://collector")];
        assert!(
            resolve(
                Signal::Traces,
                SignalOverrides::default(),
                &OtlpOverrides::default(),
                &off
            )
            .is_ok(),
            "checked only when used"
        );
    }

    #[test]
    fn a_bad_base_endpoint_is_shown_as_typed_without_the_signal_path() {
        for (signal, protocol) in [
            (Signal::Traces, "http/protobuf"),
            (Signal::Logs, "http/json"),
            (Signal::Metrics, "grpc"),
        ] {
            let vars = [
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ];
            let err = resolve(
                signal,
                SignalOverrides::default(),
                &OtlpOverrides::default(),
                &vars,
            )
            .expect_err("no scheme")
            .to_string();
            assert!(
                err.starts_with(
                    "invalid value \"localhost:4318\" for OTEL_EXPORTER_OTLP_ENDPOINT: expected"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn endpoint_errors_show_no_query_fragment_or_credentials() {
        let var = "OTEL_EXPORTER_OTLP_ENDPOINT";
        for (value, shown) in [
            (
                "http://collector:99999?token=s3cr3t",
                "\"http://collector:99999?REDACTED\"",
            ),
            (
                "http://collector:0/v1#s3cr3t",
                "\"http://collector:0/v1#REDACTED\"",
            ),
            (
                "http://user:s3cr3t@collector/otlp?api-key=s3cr3t",
                "\"http://REDACTED@collector/otlp?REDACTED\"",
            ),
            (
                "http://u:pa?s3cr3t@collector",
                "\"http://REDACTED@collector\"",
            ),
            ("collector:4318?token=s3cr3t", "\"collector:4318?REDACTED\""),
        ] {
            let err = error(&[(var, value)]);
            assert!(err.contains(var) && err.contains(shown), "{err}");
            assert!(!err.contains("s3cr3t"), "a secret in {err}");
        }
        if !cfg!(feature = "tls") {
            let err = error(&[(var, "https://collector/otlp?token=s3cr3t")]);
            assert!(err.contains("https://collector/otlp?REDACTED"), "{err}");
            assert!(!err.contains("s3cr3t"), "a secret in {err}");
        }
    }

    #[test]
    fn https_with_grpc_is_refused_naming_its_variable() {
        let grpc = ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
        for var in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "HTTPS://collector:4317",
            ),
        ] {
            let err = error(&[grpc, var]);
            assert!(
                err.starts_with(&format!("invalid value \"{}\" for {}:", var.1, var.0)),
                "{err}"
            );
            assert!(err.contains("`grpc` protocol"), "{err}");
        }
        let code = OtlpOverrides {
            protocol: Some(Protocol::Grpc),
            endpoint: Some("https://collector:4317".into()),
            ..OtlpOverrides::default()
        };
        let err = resolve(Signal::Logs, SignalOverrides::default(), &code, &[])
            .expect_err("https")
            .to_string();
        assert!(
            err.contains("TelemetryBuilder::with_otlp_endpoint"),
            "{err}"
        );
        assert!(
            env_only(
                Signal::Traces,
                &[grpc, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]
            )
            .endpoint
                == "http://c:4317"
        );
    }

    #[test]
    fn grpc_header_errors_name_the_variable_or_setter_that_held_the_header() {
        let grpc = ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            let err = error(&[grpc, (var, "x-team=dice,Trace-BIN=s3cr3t")]);
            assert!(
                err.contains(&format!("header `Trace-BIN` in {var}:")),
                "{err}"
            );
            assert!(err.contains("`-bin`") && !err.contains("s3cr3t"), "{err}");
        }
        let code = OtlpOverrides {
            headers: vec![("x-key-bin".into(), "s3cr3t".into())],
            ..OtlpOverrides::default()
        };
        let err = resolve(
            Signal::Metrics,
            SignalOverrides::default(),
            &code,
            &[grpc, ("OTEL_EXPORTER_OTLP_HEADERS", "x-team=dice")],
        )
        .expect_err("binary")
        .to_string();
        assert!(
            err.contains("header `x-key-bin` in TelemetryBuilder::with_header:"),
            "{err}"
        );
        let http = resolve(
            Signal::Metrics,
            SignalOverrides::default(),
            &code,
            &[("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "Trace-BIN=x")],
        );
        assert!(http.is_ok(), "only gRPC refuses them: {http:?}");
    }
}

#[cfg(test)]
mod debug_tests {
    use super::{OtlpOverrides, SignalOverrides};

    #[test]
    fn debug_shows_header_names_and_endpoints_without_secrets() {
        let overrides = OtlpOverrides {
            protocol: None,
            endpoint: Some("https://user:pass@collector:4318/?token=abc".into()),
            headers: vec![("authorization".into(), "Bearer s3cret".into())],
        };
        let signal = SignalOverrides {
            exporter: None,
            endpoint: Some("https://collector:4318/v1/traces?sig=xyz".into()),
        };
        let shown = format!("{overrides:?} {signal:?}");
        for secret in ["s3cret", "pass", "abc", "xyz"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("authorization"), "{shown}");
        assert!(shown.contains("collector:4318"), "{shown}");
    }
}
