//! The extension's settings, from variables of its own.
//!
//! The function and its extensions share one environment, so the function's `OTEL_EXPORTER_OTLP_*`
//! (which point at this extension) cannot also say where the extension forwards: every setting
//! here is a `LAMBDA_OTEL_EXTENSION_*` variable, named beside its default. A bad value is an
//! error naming the variable and what it accepts.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use http::Uri;
use http::header::{HeaderName, HeaderValue};

/// Base URL of the OTLP/HTTP backend; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended.
pub(crate) const ENDPOINT: &str = "LAMBDA_OTEL_EXTENSION_ENDPOINT";
/// Full URL for traces, overriding [`ENDPOINT`] (e.g. `https://xray.us-east-1.amazonaws.com/v1/traces`).
pub(crate) const TRACES_ENDPOINT: &str = "LAMBDA_OTEL_EXTENSION_TRACES_ENDPOINT";
/// Full URL for metrics, overriding [`ENDPOINT`].
pub(crate) const METRICS_ENDPOINT: &str = "LAMBDA_OTEL_EXTENSION_METRICS_ENDPOINT";
/// Full URL for logs, overriding [`ENDPOINT`].
pub(crate) const LOGS_ENDPOINT: &str = "LAMBDA_OTEL_EXTENSION_LOGS_ENDPOINT";
/// Headers added to every forwarded request: `key=value,key2=value2`, values percent-decoded.
pub(crate) const HEADERS: &str = "LAMBDA_OTEL_EXTENSION_HEADERS";
/// `auto` (default): sign requests to `*.amazonaws.com` with SigV4; `on`; `off`.
pub(crate) const SIGV4: &str = "LAMBDA_OTEL_EXTENSION_SIGV4";
/// `end-of-invocation` (default) or `deferred`.
pub(crate) const MODE: &str = "LAMBDA_OTEL_EXTENSION_MODE";
/// The bound on one forward to the backend, in milliseconds.
pub(crate) const TIMEOUT_MS: &str = "LAMBDA_OTEL_EXTENSION_TIMEOUT_MS";
/// Deferred mode (and Lambda Managed Instances): the longest data may wait before a forward.
pub(crate) const MAX_DELAY_MS: &str = "LAMBDA_OTEL_EXTENSION_MAX_DELAY_MS";
/// The most received bytes held at once; beyond it exports are refused and counted.
pub(crate) const BUFFER_BYTES: &str = "LAMBDA_OTEL_EXTENSION_BUFFER_BYTES";
/// Where the OTLP receiver listens (`host:port`).
pub(crate) const LISTEN: &str = "LAMBDA_OTEL_EXTENSION_LISTEN";
/// The host the Telemetry API listener binds and subscribes with.
pub(crate) const TELEMETRY_HOST: &str = "LAMBDA_OTEL_EXTENSION_TELEMETRY_HOST";

const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);
const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(5000);
const DEFAULT_BUFFER_BYTES: usize = 4 * 1024 * 1024;
/// What the function's OTLP default (`http://localhost:4318`) reaches.
const DEFAULT_LISTEN: &str = "127.0.0.1:4318";
/// The name Lambda's Telemetry API documentation gives the sandbox's own address.
const DEFAULT_TELEMETRY_HOST: &str = "sandbox.localdomain";

/// Lambda Managed Instances: `INVOKE` is refused and the environment is never frozen.
pub(crate) fn is_managed_instances(lookup: impl Fn(&str) -> Option<String>) -> bool {
    lookup("AWS_LAMBDA_INITIALIZATION_TYPE").is_some_and(|v| v == "lambda-managed-instances")
}

/// The three OTLP signals, as they arrive and as they are forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub(crate) const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// The OTLP/HTTP path of the signal.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    pub(crate) fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.path() == path)
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Signal::Traces => TRACES_ENDPOINT,
            Signal::Metrics => METRICS_ENDPOINT,
            Signal::Logs => LOGS_ENDPOINT,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When the received telemetry is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// At the end of each invocation, before the extension's `/next`: nothing is held across a
    /// freeze, and the backend's round trip is billed to the invocation.
    EndOfInvocation,
    /// In the background while the next invocation runs; the end of an invocation waits only for
    /// data older than the maximum delay.
    Deferred,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::EndOfInvocation => "end-of-invocation",
            Mode::Deferred => "deferred",
        })
    }
}

/// Whether forwarded requests are signed with SigV4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// Requests to `*.amazonaws.com` are signed, others not.
    Auto,
    On,
    Off,
}

/// Everything the extension reads from its environment.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Per signal, where it goes; `None`: the signal is received and dropped (counted).
    pub(crate) endpoints: [Option<Uri>; 3],
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) signing: Signing,
    pub(crate) mode: Mode,
    pub(crate) timeout: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) buffer_bytes: usize,
    pub(crate) listen: SocketAddr,
    pub(crate) telemetry_host: String,
    /// Lambda Managed Instances (`AWS_LAMBDA_INITIALIZATION_TYPE`): no `INVOKE`, so the
    /// function's end-of-flush marks would serve nothing and are not asked for.
    pub(crate) managed_instances: bool,
}

impl Config {
    /// Reads the process environment.
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, or `None` when unset).
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base = get(ENDPOINT)
            .map(|value| parse_url(ENDPOINT, &value))
            .transpose()?;
        let mut endpoints = [None, None, None];
        for (slot, signal) in endpoints.iter_mut().zip(Signal::ALL) {
            *slot = match get(signal.variable()) {
                Some(value) => Some(parse_url(signal.variable(), &value)?),
                None => base.as_ref().map(|base| join(base, signal.path())),
            };
        }
        if endpoints.iter().all(Option::is_none) {
            return Err(ConfigError::new(
                ENDPOINT,
                "",
                "an http:// or https:// URL of an OTLP/HTTP backend (or one of the per-signal \
                 variables); without it the extension has nowhere to forward to",
            ));
        }
        Ok(Self {
            endpoints,
            headers: get(HEADERS)
                .map(|v| parse_headers(&v))
                .transpose()?
                .unwrap_or_default(),
            signing: match get(SIGV4).as_deref().map(str::trim) {
                None | Some("auto") => Signing::Auto,
                Some("on" | "true") => Signing::On,
                Some("off" | "false") => Signing::Off,
                Some(other) => return Err(ConfigError::new(SIGV4, other, "auto, on or off")),
            },
            mode: match get(MODE).as_deref().map(str::trim) {
                None | Some("end-of-invocation") => Mode::EndOfInvocation,
                Some("deferred") => Mode::Deferred,
                Some(other) => {
                    return Err(ConfigError::new(
                        MODE,
                        other,
                        "end-of-invocation or deferred",
                    ));
                }
            },
            timeout: millis(TIMEOUT_MS, get(TIMEOUT_MS))?.unwrap_or(DEFAULT_TIMEOUT),
            max_delay: millis(MAX_DELAY_MS, get(MAX_DELAY_MS))?.unwrap_or(DEFAULT_MAX_DELAY),
            buffer_bytes: match get(BUFFER_BYTES) {
                None => DEFAULT_BUFFER_BYTES,
                Some(v) => v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n >= 64 * 1024)
                    .ok_or_else(|| {
                        ConfigError::new(BUFFER_BYTES, &v, "a number of bytes, at least 65536")
                    })?,
            },
            listen: {
                let value = get(LISTEN).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
                value.trim().parse().map_err(|_| {
                    ConfigError::new(
                        LISTEN,
                        &value,
                        "an IP address and port, like 127.0.0.1:4318",
                    )
                })?
            },
            telemetry_host: get(TELEMETRY_HOST)
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| DEFAULT_TELEMETRY_HOST.to_owned()),
            managed_instances: is_managed_instances(&lookup),
        })
    }

    /// Where `signal` is forwarded, if anywhere.
    pub(crate) fn endpoint(&self, signal: Signal) -> Option<&Uri> {
        self.endpoints[signal as usize].as_ref()
    }
}

/// A setting the extension cannot use: which variable, its value, what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    variable: &'static str,
    value: String,
    expected: String,
}

impl ConfigError {
    fn new(variable: &'static str, value: &str, expected: impl Into<String>) -> Self {
        Self {
            variable,
            value: value.to_owned(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(
                f,
                "{} is not set: expected {}",
                self.variable, self.expected
            )
        } else {
            write!(
                f,
                "invalid value {:?} for {}: expected {}",
                self.value, self.variable, self.expected
            )
        }
    }
}

impl std::error::Error for ConfigError {}

fn parse_url(variable: &'static str, value: &str) -> Result<Uri, ConfigError> {
    let expected =
        "an http:// or https:// URL with a host, like https://collector.example.com:4318";
    let uri: Uri = value
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(variable, value, expected))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(ConfigError::new(variable, value, expected));
    }
    if uri.scheme_str() == Some("https") && !cfg!(feature = "tls") {
        return Err(ConfigError::new(
            variable,
            value,
            "an http:// URL: this build of the extension has no TLS (build it with the `tls` \
             or `sigv4` feature, as the template does)",
        ));
    }
    Ok(uri)
}

/// `base` with the signal's path appended to its own path (`http://c:4318/otlp` → `/otlp/v1/traces`).
fn join(base: &Uri, path: &str) -> Uri {
    let prefix = base.path().trim_end_matches('/');
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(
        format!("{prefix}{path}")
            .parse()
            .expect("a valid path followed by a fixed OTLP path is a valid path"),
    );
    Uri::from_parts(parts).expect("only the path changed")
}

fn parse_headers(value: &str) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
    let expected = "comma-separated key=value pairs (values percent-encoded), like \
                    x-api-key=abc,x-tenant=t1";
    value
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (key, val) = pair
                .split_once('=')
                .ok_or_else(|| ConfigError::new(HEADERS, value, expected))?;
            let name = HeaderName::try_from(key.trim())
                .map_err(|_| ConfigError::new(HEADERS, value, expected))?;
            let decoded = percent_decode(val.trim())
                .ok_or_else(|| ConfigError::new(HEADERS, value, expected))?;
            let mut val = HeaderValue::try_from(decoded)
                .map_err(|_| ConfigError::new(HEADERS, value, expected))?;
            // Often a key or a token: `Debug` shows `Sensitive`, not the value.
            val.set_sensitive(true);
            Ok((name, val))
        })
        .collect()
}

/// `%XX` sequences decoded (the OTLP exporters' `HEADERS` convention); `None` if malformed.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn millis(variable: &'static str, value: Option<String>) -> Result<Option<Duration>, ConfigError> {
    value
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=60_000).contains(ms))
                .map(Duration::from_millis)
                .ok_or_else(|| ConfigError::new(variable, &v, "milliseconds, from 1 to 60000"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_base_endpoint_gets_each_signal_path_and_a_signal_variable_overrides_it() {
        let c = config(&[
            (ENDPOINT, "http://collector:4318/otlp/"),
            (TRACES_ENDPOINT, "http://xray.local/v1/traces"),
        ])
        .expect("valid");
        assert_eq!(
            c.endpoint(Signal::Traces)
                .map(ToString::to_string)
                .as_deref(),
            Some("http://xray.local/v1/traces")
        );
        assert_eq!(
            c.endpoint(Signal::Metrics)
                .map(ToString::to_string)
                .as_deref(),
            Some("http://collector:4318/otlp/v1/metrics")
        );
        assert_eq!(c.mode, Mode::EndOfInvocation);
        assert_eq!(c.signing, Signing::Auto);
        assert_eq!(c.listen, "127.0.0.1:4318".parse().expect("address"));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn a_signal_without_an_endpoint_is_not_forwarded() {
        let c = config(&[(LOGS_ENDPOINT, "http://logs.local/v1/logs")]).expect("valid");
        assert!(c.endpoint(Signal::Traces).is_none());
        assert!(c.endpoint(Signal::Logs).is_some());
    }

    #[test]
    fn no_endpoint_at_all_names_the_variable() {
        let err = config(&[]).expect_err("nowhere to forward");
        assert!(
            err.to_string()
                .starts_with("LAMBDA_OTEL_EXTENSION_ENDPOINT is not set"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_what_it_accepts() {
        let cases = [
            (ENDPOINT, "localhost:4318", "http:// or https://"),
            (ENDPOINT, "ftp://c/", "http:// or https://"),
            (MODE, "lazy", "end-of-invocation or deferred"),
            (SIGV4, "maybe", "auto, on or off"),
            (TIMEOUT_MS, "0", "milliseconds"),
            (TIMEOUT_MS, "1s", "milliseconds"),
            (BUFFER_BYTES, "10", "at least 65536"),
            (HEADERS, "novalue", "key=value"),
            (HEADERS, "k=%zz", "key=value"),
            (LISTEN, "localhost", "IP address and port"),
        ];
        for (variable, value, expected) in cases {
            let mut vars = vec![(ENDPOINT, "http://c:4318")];
            vars.retain(|(k, _)| *k != variable);
            vars.push((variable, value));
            let err = config(&vars).expect_err(value).to_string();
            assert!(
                err.contains(variable) && err.contains(value) && err.contains(expected),
                "{variable}={value}: {err}"
            );
        }
    }

    #[test]
    fn headers_are_percent_decoded() {
        let c = config(&[
            (ENDPOINT, "http://c:4318"),
            (HEADERS, "x-api-key=a%3Db, x-tenant=t1"),
        ])
        .expect("valid");
        let headers: Vec<(String, String)> = c
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_owned()))
            .collect();
        assert_eq!(
            headers,
            [
                ("x-api-key".to_owned(), "a=b".to_owned()),
                ("x-tenant".to_owned(), "t1".to_owned())
            ]
        );
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn https_without_tls_says_which_build_has_it() {
        let err = config(&[(ENDPOINT, "https://c:4318")]).expect_err("no TLS");
        assert!(err.to_string().contains("`tls`"), "{err}");
    }
}
