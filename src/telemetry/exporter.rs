//! Building the configured exporters on the export thread's runtime.

use super::console::{ConsoleExporter, ConsoleLogExporter, ConsoleMetricExporter};
use crate::Error;
use crate::config::{Exporter, Protocol, Settings, SignalSettings, env};
use crate::export::emf::EmfExporter;
use crate::flush::{ExportLogs, ExportSpans, Exporters, MetricsExport, SharedReader, Worker};
use opentelemetry_otlp::{RetryPolicy, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::LogExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::SpanExporter;
use std::time::Duration;

/// Where the configured exporters run: on the export thread, or on the function's own thread
/// when none of them waits on the network; `None` when every signal is off.
/// `reader` is the meter provider's reader, when metrics are on.
pub(crate) fn spawn_worker(
    settings: &Settings,
    resource: &Resource,
    reader: Option<&SharedReader>,
) -> Result<Option<Worker>, Error> {
    if never_waits(settings) {
        let exporters = exporters(settings, resource, reader)?;
        return Ok((!exporters.is_empty()).then(|| Worker::inline(exporters)));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("lambda-otel-export")
        .build()
        .map_err(Error::Thread)?;
    // gRPC channels spawn their background task on the runtime current at build time.
    let built = {
        let _entered = runtime.enter();
        exporters(settings, resource, reader)
    };
    match built {
        Ok(exporters) if exporters.is_empty() => {
            // As below: a plain drop of the runtime panics inside an async `main`.
            runtime.shutdown_background();
            Ok(None)
        }
        Ok(exporters) => Worker::spawn(exporters, runtime)
            .map(Some)
            .map_err(Error::Thread),
        Err(error) => {
            // A plain drop blocks, which panics when `main` is async; this runtime never ran
            // anything, so nothing is lost by not waiting.
            runtime.shutdown_background();
            Err(error)
        }
    }
}

/// Whether every signal's export completes in the call: X-Ray's UDP datagrams, EMF and
/// console lines on stdout, nothing at all. Then the flush runs on the function's own thread
/// (two thread hand-offs less per invocation) and no export thread or runtime is started.
fn never_waits(settings: &Settings) -> bool {
    [&settings.traces, &settings.metrics, &settings.logs]
        .iter()
        .all(|signal| signal.exporter != Exporter::Otlp)
}

fn exporters(
    settings: &Settings,
    resource: &Resource,
    reader: Option<&SharedReader>,
) -> Result<Exporters, Error> {
    let timeout = settings.flush_timeout;
    let spans = match settings.traces.exporter {
        // Refused for traces when the settings were resolved.
        Exporter::None | Exporter::Emf => None,
        Exporter::Xray => xray_spans(settings, resource)?,
        Exporter::Console => Some(boxed_spans(ConsoleExporter::new(), resource)),
        Exporter::Otlp => Some(boxed_spans(
            otlp_spans(&settings.traces, timeout)?,
            resource,
        )),
    };
    let logs = match settings.logs.exporter {
        // Refused for logs when the settings were resolved.
        Exporter::None | Exporter::Xray | Exporter::Emf => None,
        Exporter::Console => Some(boxed_logs(ConsoleLogExporter::new(), resource)),
        Exporter::Otlp => Some(boxed_logs(otlp_logs(&settings.logs, timeout)?, resource)),
    };
    let metrics = match (settings.metrics.exporter, reader) {
        (Exporter::None | Exporter::Xray, _) | (_, None) => None,
        (Exporter::Emf, Some(reader)) => Some(MetricsExport {
            exporter: Box::new(EmfExporter::new(settings.emf_namespace.clone())),
            reader: reader.clone(),
        }),
        (Exporter::Console, Some(reader)) => Some(MetricsExport {
            exporter: Box::new(ConsoleMetricExporter::new().with_temporality(settings.temporality)),
            reader: reader.clone(),
        }),
        (Exporter::Otlp, Some(reader)) => Some(MetricsExport {
            exporter: Box::new(otlp_metrics(
                &settings.metrics,
                timeout,
                settings.temporality,
            )?),
            reader: reader.clone(),
        }),
    };
    Ok(Exporters {
        spans,
        logs,
        metrics,
    })
}

/// The X-Ray exporter, its UDP socket opened on the export thread's runtime (entered here).
#[cfg(feature = "xray")]
fn xray_spans(
    settings: &Settings,
    resource: &Resource,
) -> Result<Option<Box<dyn ExportSpans>>, Error> {
    let address = settings.xray_daemon_address;
    let mut exporter =
        crate::export::xray::XrayExporter::new(address).map_err(|e| Error::Exporter {
            what: "X-Ray",
            message: format!("cannot open a UDP socket to the daemon at {address}: {e}"),
        })?;
    exporter.set_resource(resource);
    Ok(Some(Box::new(exporter)))
}

#[cfg(not(feature = "xray"))]
fn xray_spans(
    _settings: &Settings,
    _resource: &Resource,
) -> Result<Option<Box<dyn ExportSpans>>, Error> {
    Err(Error::FeatureDisabled {
        variable: env::OTEL_TRACES_EXPORTER,
        value: "xray".into(),
        feature: "xray",
    })
}

fn boxed_spans<E: SpanExporter + 'static>(mut e: E, resource: &Resource) -> Box<dyn ExportSpans> {
    e.set_resource(resource);
    Box::new(e)
}

fn boxed_logs<E: LogExporter + 'static>(mut e: E, resource: &Resource) -> Box<dyn ExportLogs> {
    e.set_resource(resource);
    Box::new(e)
}

fn build_error(e: opentelemetry_otlp::ExporterBuildError) -> Error {
    Error::Exporter {
        what: "OTLP",
        message: e.to_string(),
    }
}

/// The settings every OTLP/HTTP exporter shares.
fn http<B>(builder: B, signal: &SignalSettings, timeout: Duration) -> Result<B, Error>
where
    B: WithExportConfig + opentelemetry_otlp::WithHttpConfig,
{
    let builder = builder
        .with_protocol(http_protocol(signal.protocol)?)
        .with_endpoint(signal.endpoint.clone())
        .with_timeout(timeout)
        .with_headers(signal.headers.iter().cloned().collect())
        // The flush is bounded: a retry after a back-off would only meet the deadline.
        .with_retry_policy(RetryPolicy::disabled());
    // With `tls`, opentelemetry-otlp builds its reqwest client (rustls) itself.
    #[cfg(not(feature = "tls"))]
    let builder = builder.with_http_client(super::http_client::PlainHttpClient::new(timeout));
    Ok(builder)
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
    ($builder:expr, $signal:expr, $timeout:expr) => {{
        let builder = $builder;
        let built = match $signal.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => grpc(builder.with_tonic(), $signal, $timeout)?.build(),
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => {
                return Err(Error::FeatureDisabled {
                    variable: env::OTEL_EXPORTER_OTLP_PROTOCOL,
                    value: "grpc".into(),
                    feature: "grpc",
                });
            }
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                http(builder.with_http(), $signal, $timeout)?.build()
            }
        };
        built.map_err(build_error)
    }};
}

fn otlp_spans(
    signal: &SignalSettings,
    timeout: Duration,
) -> Result<opentelemetry_otlp::SpanExporter, Error> {
    otlp!(opentelemetry_otlp::SpanExporter::builder(), signal, timeout)
}

fn otlp_logs(
    signal: &SignalSettings,
    timeout: Duration,
) -> Result<opentelemetry_otlp::LogExporter, Error> {
    otlp!(opentelemetry_otlp::LogExporter::builder(), signal, timeout)
}

fn otlp_metrics(
    signal: &SignalSettings,
    timeout: Duration,
    temporality: Temporality,
) -> Result<opentelemetry_otlp::MetricExporter, Error> {
    let builder = opentelemetry_otlp::MetricExporter::builder().with_temporality(temporality);
    otlp!(builder, signal, timeout)
}

/// The settings every OTLP/gRPC exporter shares.
#[cfg(feature = "grpc")]
fn grpc<B>(builder: B, signal: &SignalSettings, timeout: Duration) -> Result<B, Error>
where
    B: WithExportConfig + opentelemetry_otlp::WithTonicConfig,
{
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (name, value) in &signal.headers {
        let key = tonic::metadata::MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes());
        let value = tonic::metadata::MetadataValue::try_from(value.as_str());
        let (Ok(key), Ok(value)) = (key, value) else {
            return Err(Error::invalid(
                env::OTEL_EXPORTER_OTLP_HEADERS,
                name,
                "headers that are valid gRPC metadata (ASCII keys and values)",
            ));
        };
        metadata.insert(key, value);
    }
    Ok(builder
        .with_endpoint(signal.endpoint.clone())
        .with_timeout(timeout)
        .with_metadata(metadata)
        .with_retry_policy(RetryPolicy::disabled()))
}
