//! Building the configured exporter on the export thread's runtime.

use crate::Error;
use crate::config::{Protocol, Settings, TracesExporter, env};
use crate::flush::Worker;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanExporter;

/// Starts the export thread with the configured exporter; `None` for `OTEL_TRACES_EXPORTER=none`.
pub(crate) fn spawn_worker(
    settings: &Settings,
    resource: &Resource,
) -> Result<Option<Worker>, Error> {
    if settings.exporter == TracesExporter::None {
        return Ok(None);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("lambda-otel-export")
        .build()
        .map_err(Error::Thread)?;
    if settings.exporter == TracesExporter::Console {
        return start(super::console::ConsoleExporter::new(), resource, runtime);
    }
    // gRPC channels spawn their background task on the runtime current at build time.
    let built = {
        let _entered = runtime.enter();
        otlp(settings)
    };
    match built {
        Ok(exporter) => start(exporter, resource, runtime),
        Err(error) => {
            // A plain drop blocks, which panics when `main` is async; this runtime never ran
            // anything, so nothing is lost by not waiting.
            runtime.shutdown_background();
            Err(error)
        }
    }
}

fn start<E: SpanExporter + 'static>(
    mut exporter: E,
    resource: &Resource,
    runtime: tokio::runtime::Runtime,
) -> Result<Option<Worker>, Error> {
    exporter.set_resource(resource);
    Worker::spawn(exporter, runtime)
        .map(Some)
        .map_err(Error::Thread)
}

fn otlp(settings: &Settings) -> Result<opentelemetry_otlp::SpanExporter, Error> {
    use opentelemetry_otlp::{RetryPolicy, WithExportConfig};

    let built = match settings.protocol {
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            use opentelemetry_otlp::WithHttpConfig;
            let protocol = http_protocol(settings.protocol)?;
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.flush_timeout)
                .with_headers(settings.headers.iter().cloned().collect())
                // The flush is bounded: a retry after a back-off would only meet the deadline.
                .with_retry_policy(RetryPolicy::disabled())
                .build()
        }
        Protocol::Grpc => grpc(settings)?,
    };
    built.map_err(|e| Error::Exporter {
        what: "OTLP",
        message: e.to_string(),
    })
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

#[cfg(feature = "grpc")]
fn grpc(
    settings: &Settings,
) -> Result<Result<opentelemetry_otlp::SpanExporter, opentelemetry_otlp::ExporterBuildError>, Error>
{
    use opentelemetry_otlp::{RetryPolicy, WithExportConfig, WithTonicConfig};
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (name, value) in &settings.headers {
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
    Ok(opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(settings.flush_timeout)
        .with_metadata(metadata)
        .with_retry_policy(RetryPolicy::disabled())
        .build())
}

#[cfg(not(feature = "grpc"))]
fn grpc(
    _settings: &Settings,
) -> Result<Result<opentelemetry_otlp::SpanExporter, opentelemetry_otlp::ExporterBuildError>, Error>
{
    Err(Error::FeatureDisabled {
        variable: env::OTEL_EXPORTER_OTLP_PROTOCOL,
        value: "grpc".into(),
        feature: "grpc",
    })
}
