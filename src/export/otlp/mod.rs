//! OTLP export (HTTP and gRPC), built from our resolved settings.
//!
//! Spans and log records over `http/protobuf` (the default protocol) are written by
//! [`protobuf`] and sent by our client ([`Protobuf`]); `http/json`, gRPC and the metrics go
//! through opentelemetry-otlp's exporters, with our client over HTTP.
//!
//! Every setting comes from [`Settings`], resolved once; opentelemetry-otlp's own reading of
//! the environment is defeated at each point where it happens when one of its exporters is
//! built:
//! - endpoint, protocol and timeout are always given, so it never looks them up;
//! - compression: only `none` is possible in this build (opentelemetry-otlp's gzip features
//!   are off), which is also what its own lookup of `OTEL_EXPORTER_OTLP_COMPRESSION` always
//!   yields, and the settings refuse any other value;
//! - headers: it adds `OTEL_EXPORTER_OTLP_*HEADERS` from the process environment over those it
//!   is given, unasked. Over HTTP, with or without TLS, our client sends the resolved headers
//!   instead of the request's (`http_client`); over gRPC an interceptor, which runs after the
//!   library has added its metadata, replaces that metadata.
//!
//! The OTLP/HTTP client also finds the lambda-otel extension (`layer/`) from its answers, and
//! [`extension`] tells it when an invocation's telemetry is out.
//!
//! Each OTLP exporter is wrapped (`Otlp`) so that its errors say what failed and where: the
//! library's say "network error" for any transport failure over HTTP, and never name the
//! endpoint.

pub(crate) mod extension;
mod http1;
mod http_client;
#[cfg(test)]
pub(crate) mod loopback;
pub(crate) mod protobuf;

pub(crate) use http_client::Connectors;
pub(crate) use http_client::Failure;
use http_client::{ExportClient, diagnosed};
pub(crate) use http1::Idle;

use crate::Error;
use crate::config::{Protocol, SignalSettings, env};
#[cfg(feature = "logs")]
use opentelemetry::logs::Severity;
use opentelemetry_otlp::{RetryPolicy, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::{
    Temporality, data::ResourceMetrics, exporter::PushMetricExporter,
};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::future::Future;
use std::time::Duration;

thread_local! {
    /// Whether this thread is the flush's export thread (see `http_client::Pools`).
    static EXPORT_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the calling thread as the export thread: its OTLP/HTTP exports, and the extension's
/// marks it sends, take connections of their own, never one of the function's executor.
pub(crate) fn enter_export_thread() {
    EXPORT_THREAD.with(|t| t.set(true));
}

fn on_export_thread() -> bool {
    EXPORT_THREAD.with(std::cell::Cell::get)
}

/// The `User-Agent` of OTLP exports unless the headers set one (the library's default, which
/// names its version, is dropped with the rest of its headers).
const USER_AGENT: &str = concat!(
    "OTel-OTLP-Exporter-Rust lambda-otel/",
    env!("CARGO_PKG_VERSION")
);

fn build_error(e: opentelemetry_otlp::ExporterBuildError) -> Error {
    Error::Exporter {
        what: "OTLP",
        message: e.to_string(),
    }
}

/// Our OTLP/HTTP client (`http_client`) for `signal`, with TLS when the feature is on.
fn client(signal: &SignalSettings, connectors: &mut Connectors) -> Result<ExportClient, Error> {
    ExportClient::new(
        connectors,
        &signal.endpoint,
        signal.timeout,
        &signal.headers,
    )
    .map_err(|e| Error::Exporter {
        what: "OTLP",
        message: e.to_string(),
    })
}

/// The settings every OTLP/HTTP exporter of opentelemetry-otlp shares, and our client.
fn http<B>(builder: B, signal: &SignalSettings, connectors: &mut Connectors) -> Result<B, Error>
where
    B: WithExportConfig + opentelemetry_otlp::WithHttpConfig,
{
    let client = client(signal, connectors)?;
    Ok(builder
        .with_protocol(http_protocol(signal.protocol)?)
        .with_endpoint(signal.endpoint.clone())
        .with_timeout(signal.timeout)
        // The flush is bounded: a retry after a back-off would only meet the deadline.
        .with_retry_policy(RetryPolicy::disabled())
        .with_http_client(client))
}

fn http_protocol(protocol: Protocol) -> Result<opentelemetry_otlp::Protocol, Error> {
    match protocol {
        #[cfg(feature = "http-json")]
        Protocol::HttpJson => Ok(opentelemetry_otlp::Protocol::HttpJson),
        #[cfg(not(feature = "http-json"))]
        Protocol::HttpJson => Err(Error::FeatureDisabled {
            variable: env::OTEL_EXPORTER_OTLP_PROTOCOL,
            value: "http/json".into(),
            feature: "http-json",
        }),
        _ => Ok(opentelemetry_otlp::Protocol::HttpBinary),
    }
}

/// Builds an OTLP exporter from its builder: the three signals' builders are distinct types
/// with the same configuration traits.
macro_rules! otlp {
    ($builder:expr, $signal:expr, $connectors:expr) => {{
        let builder = $builder;
        let built = match $signal.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => grpc(builder.with_tonic(), $signal)?.build(),
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => {
                return Err(Error::FeatureDisabled {
                    variable: env::OTEL_EXPORTER_OTLP_PROTOCOL,
                    value: "grpc".into(),
                    feature: "grpc",
                });
            }
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                http(builder.with_http(), $signal, $connectors)?.build()
            }
        };
        built.map_err(build_error)
    }};
}

/// The OTLP span exporter of `signal`'s settings: over `http/protobuf` (the default) our own
/// ([`Protobuf`]), over the other protocols opentelemetry-otlp's.
pub(crate) fn spans(
    signal: &SignalSettings,
    connectors: &mut Connectors,
) -> Result<impl SpanExporter + 'static, Error> {
    let exporter = ours(signal, connectors, |connectors| {
        otlp!(
            opentelemetry_otlp::SpanExporter::builder(),
            signal,
            connectors
        )
    })?;
    Ok(Otlp::new(exporter, signal))
}

/// The OTLP log exporter of `signal`'s settings, chosen as for spans.
#[cfg(feature = "logs")]
pub(crate) fn logs(
    signal: &SignalSettings,
    connectors: &mut Connectors,
) -> Result<impl LogExporter + 'static, Error> {
    let exporter = ours(signal, connectors, |connectors| {
        otlp!(
            opentelemetry_otlp::LogExporter::builder(),
            signal,
            connectors
        )
    })?;
    Ok(Otlp::new(exporter, signal))
}

/// Our exporter for `http/protobuf`, else the one `library` builds.
fn ours<L>(
    signal: &SignalSettings,
    connectors: &mut Connectors,
    library: impl FnOnce(&mut Connectors) -> Result<L, Error>,
) -> Result<Ours<L>, Error> {
    Ok(match signal.protocol {
        Protocol::HttpProtobuf => Ours::Protobuf(Box::new(Protobuf::new(signal, connectors)?)),
        Protocol::HttpJson | Protocol::Grpc => Ours::Library(library(connectors)?),
    })
}

/// Our exporter over `http/protobuf`, or opentelemetry-otlp's `L` over the other protocols.
#[derive(Debug)]
enum Ours<L> {
    Protobuf(Box<Protobuf>),
    Library(L),
}

impl<L> Ours<L> {
    /// opentelemetry-otlp's exporter, if it is the one: ours holds no telemetry between
    /// exports, so it has nothing to shut down.
    fn library(&self) -> Option<&L> {
        match self {
            Self::Protobuf(_) => None,
            Self::Library(exporter) => Some(exporter),
        }
    }

    /// Encodes `resource` for our exporter; opentelemetry-otlp's is returned to be given it.
    fn with_resource(&mut self, resource: &Resource) -> Option<&mut L> {
        match self {
            Self::Protobuf(exporter) => {
                exporter.resource = protobuf::EncodedResource::new(resource);
                None
            }
            Self::Library(exporter) => Some(exporter),
        }
    }
}

impl<L: SpanExporter> SpanExporter for Ours<L> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Self::Protobuf(exporter) => {
                let body = protobuf::traces_request(&batch, &exporter.resource);
                drop(batch);
                exporter.post(body, "spans").await
            }
            Self::Library(exporter) => exporter.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.library()
            .map_or(Ok(()), |exporter| exporter.shutdown_with_timeout(timeout))
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(exporter) = self.with_resource(resource) {
            exporter.set_resource(resource);
        }
    }
}

#[cfg(feature = "logs")]
impl<L: LogExporter> LogExporter for Ours<L> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        match self {
            Self::Protobuf(exporter) => {
                let body = protobuf::logs_request(&batch, &exporter.resource);
                exporter.post(body, "log records").await
            }
            Self::Library(exporter) => exporter.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.library()
            .map_or(Ok(()), |exporter| exporter.shutdown_with_timeout(timeout))
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(exporter) = self.with_resource(resource) {
            exporter.set_resource(resource);
        }
    }
}

/// Spans or log records over OTLP/HTTP with protobuf bodies, written by [`protobuf`] from the
/// items themselves with the resource encoded once, and sent by our client to the endpoint it
/// parsed once. opentelemetry-otlp's exporters did the same request with a copy of every item
/// as opentelemetry-proto's messages, the resource's attributes copied again each time, and
/// the endpoint parsed (and printed, for its debug log) on every export. No telemetry is held
/// between exports, so shutting down does nothing: the client's idle connections close with
/// the process (a flush after shutdown would still be sent; none is made).
#[derive(Debug)]
struct Protobuf {
    client: ExportClient,
    /// As warnings show it.
    shown: String,
    resource: protobuf::EncodedResource,
}

impl Protobuf {
    fn new(signal: &SignalSettings, connectors: &mut Connectors) -> Result<Self, Error> {
        // The settings refuse what does not parse; the client keeps the parsed endpoint.
        if let Err(e) = signal.endpoint.parse::<http::Uri>() {
            return Err(Error::Exporter {
                what: "OTLP",
                message: format!("the endpoint {}: {e}", shown(&signal.endpoint)),
            });
        }
        Ok(Self {
            client: client(signal, connectors)?,
            shown: shown(&signal.endpoint),
            // Until the resource is set (before any export): an empty one, as the library's.
            resource: protobuf::EncodedResource::new(&Resource::builder_empty().build()),
        })
    }

    /// One request with `body`; an error says what failed, which [`Otlp`] replaces with what
    /// the client saw when it saw something. An answer that rejects part of the export (OTLP's
    /// partial success) is a warning, as opentelemetry-otlp's exporter wrote it (not a loss:
    /// the export succeeded, and the count is the collector's).
    async fn post(&self, body: Vec<u8>, what: &'static str) -> OTelSdkResult {
        let failed = |message: String| OTelSdkError::InternalFailure(message);
        let response = self
            .client
            .post("application/x-protobuf", body)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if response.status().is_success() {
            if let Some((rejected, message)) = protobuf::partial_success(response.body()) {
                tracing::warn!(
                    target: "lambda_otel",
                    destination = %self.shown,
                    rejected,
                    error = %message,
                    "the collector accepted the export but rejected some of its {what}"
                );
            }
            Ok(())
        } else {
            Err(failed(format!("HTTP status {}", response.status())))
        }
    }
}

/// The OTLP metric exporter of `signal`'s settings, with `temporality`.
#[cfg(feature = "metrics")]
pub(crate) fn metrics(
    signal: &SignalSettings,
    temporality: Temporality,
    connectors: &mut Connectors,
) -> Result<impl PushMetricExporter + 'static, Error> {
    let builder = opentelemetry_otlp::MetricExporter::builder().with_temporality(temporality);
    let exporter = otlp!(builder, signal, connectors)?;
    Ok(Otlp::new(exporter, signal))
}

/// An OTLP exporter and the endpoint it sends to, as it may be shown. A failed export's error
/// says what failed and where: what our HTTP client saw (a refused connection, no answer in
/// time, a DNS or TLS failure, an HTTP status), else (gRPC, a failure before sending) the
/// library's message with the endpoint.
#[derive(Debug)]
struct Otlp<E> {
    exporter: E,
    endpoint: String,
}

impl<E> Otlp<E> {
    fn new(exporter: E, signal: &SignalSettings) -> Self {
        Self {
            exporter,
            endpoint: shown(&signal.endpoint),
        }
    }

    async fn diagnose(&self, export: impl Future<Output = OTelSdkResult>) -> OTelSdkResult {
        let (outcome, failure) = diagnosed(export).await;
        outcome.map_err(|error| {
            OTelSdkError::InternalFailure(match failure {
                Some(failure) => failure.describe(&self.endpoint),
                None => match error {
                    OTelSdkError::InternalFailure(message) => {
                        format!("exporting to {}: {message}", self.endpoint)
                    }
                    other => format!("exporting to {}: {other}", self.endpoint),
                },
            })
        })
    }
}

impl<E: SpanExporter> SpanExporter for Otlp<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.diagnose(self.exporter.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.exporter.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

#[cfg(feature = "logs")]
impl<E: LogExporter> LogExporter for Otlp<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.diagnose(self.exporter.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.exporter.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

#[cfg(feature = "metrics")]
impl<E: PushMetricExporter> PushMetricExporter for Otlp<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.diagnose(self.exporter.export(metrics)).await
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.exporter.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.exporter.temporality()
    }
}

/// `endpoint` as a message may show it: no user name or password (the settings refuse them,
/// but a message must not depend on that), no query or fragment (where a token could be).
pub(crate) fn shown(endpoint: &str) -> String {
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, endpoint),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

/// The settings every OTLP/gRPC exporter shares.
#[cfg(feature = "grpc")]
fn grpc<B>(builder: B, signal: &SignalSettings) -> Result<B, Error>
where
    B: WithExportConfig + opentelemetry_otlp::WithTonicConfig,
{
    let metadata = grpc_metadata(&signal.headers)?;
    // The library adds its metadata, `OTEL_EXPORTER_OTLP_*HEADERS` from the process environment
    // included, before it calls the interceptor: replacing it makes the settings the only source.
    let interceptor = move |mut request: tonic::Request<()>| {
        *request.metadata_mut() = metadata.clone();
        Ok(request)
    };
    Ok(builder
        .with_endpoint(signal.endpoint.clone())
        .with_timeout(signal.timeout)
        .with_interceptor(interceptor)
        .with_retry_policy(RetryPolicy::disabled()))
}

/// The resolved headers as gRPC metadata, with our `User-Agent` unless they set one.
#[cfg(feature = "grpc")]
fn grpc_metadata(headers: &[(String, String)]) -> Result<tonic::metadata::MetadataMap, Error> {
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
    let mut metadata = MetadataMap::new();
    metadata.insert("user-agent", MetadataValue::from_static(USER_AGENT));
    for (name, value) in headers {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes());
        let value = MetadataValue::try_from(value.as_str());
        let (Ok(key), Ok(value)) = (key, value) else {
            return Err(Error::InvalidHeader {
                variable: env::OTEL_EXPORTER_OTLP_HEADERS,
                header: format!("`{name}`"),
                expected: "valid gRPC metadata (ASCII, a name not ending in `-bin`)",
            });
        };
        metadata.insert(key, value);
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_shown_without_credentials_query_or_fragment() {
        for (endpoint, expected) in [
            (
                "http://127.0.0.1:4318/v1/traces",
                "http://127.0.0.1:4318/v1/traces",
            ),
            (
                "https://user:secret@collector:4318/v1/logs?token=secret#secret",
                "https://collector:4318/v1/logs",
            ),
            ("http://a@b:secret@collector?key=secret", "http://collector"),
            (
                "http://[::1]:4318/v1/metrics",
                "http://[::1]:4318/v1/metrics",
            ),
            ("user:secret@collector:4317", "collector:4317"),
        ] {
            assert_eq!(shown(endpoint), expected, "{endpoint}");
        }
    }
}
