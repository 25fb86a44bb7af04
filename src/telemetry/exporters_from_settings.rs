//! Each signal's exporter, chosen and built from the settings (OTLP, X-Ray, EMF, console), and
//! the flush's worker that runs them: on the function's own executor and an export thread with
//! a runtime of its own (gRPC: on the thread only), or inline on the function's thread when
//! none of them waits on the network.

use crate::Error;
use crate::config::{Exporter, Protocol, Settings};
#[cfg(feature = "logs")]
use crate::export::boxed::ExportLogs;
use crate::export::boxed::ExportSpans;
use crate::export::console::ConsoleExporter;
use crate::export::otlp::{self, Connectors};
use crate::flush::{Exporters, SharedReader, Worker, export_runtime};
use opentelemetry_sdk::Resource;
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::LogExporter;
use opentelemetry_sdk::trace::SpanExporter;

/// The worker of the configured exporters: inline on the function's thread when none of them
/// waits on the network; on the function's executor first, with an export thread started when
/// needed, when none uses gRPC; else on an export thread started now, with the runtime the
/// gRPC channels were built in. `None` when every signal is off.
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
    if !grpc(settings) {
        // No runtime here: the export thread builds its own if it is ever started.
        let exporters = exporters(settings, resource, reader)?;
        return Ok((!exporters.is_empty()).then(|| Worker::caller_first(exporters)));
    }
    let runtime = export_runtime().map_err(Error::Thread)?;
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

/// Whether a signal exports over OTLP/gRPC: tonic's channel is a task of the export thread's
/// runtime, so those exports stay on that thread. Every other export needs only an IO driver,
/// and a flush may run it on the function's own executor (see `Worker::on_caller`).
fn grpc(settings: &Settings) -> bool {
    [&settings.traces, &settings.metrics, &settings.logs]
        .iter()
        .any(|signal| signal.exporter == Exporter::Otlp && signal.protocol == Protocol::Grpc)
}

fn exporters(
    settings: &Settings,
    resource: &Resource,
    reader: Option<&SharedReader>,
) -> Result<Exporters, Error> {
    let connectors = &mut Connectors::default();
    let spans = match settings.traces.exporter {
        // Refused for traces when the settings were resolved.
        Exporter::None | Exporter::Emf => None,
        Exporter::Xray => xray_spans(settings, resource)?,
        Exporter::Console => Some(boxed_spans(ConsoleExporter::new(), resource)),
        Exporter::Otlp => {
            let exporter = otlp::spans(&settings.traces, connectors)?;
            Some(boxed_spans(exporter, resource))
        }
    };
    #[cfg(not(feature = "metrics"))]
    let _ = reader;
    Ok(Exporters {
        spans,
        #[cfg(feature = "logs")]
        logs: logs(settings, resource, connectors)?,
        #[cfg(feature = "metrics")]
        metrics: metrics(settings, reader, connectors)?,
    })
}

#[cfg(feature = "logs")]
fn logs(
    settings: &Settings,
    resource: &Resource,
    connectors: &mut Connectors,
) -> Result<Option<Box<dyn ExportLogs>>, Error> {
    use crate::export::console::ConsoleLogExporter;
    Ok(match settings.logs.exporter {
        // Refused for logs when the settings were resolved.
        Exporter::None | Exporter::Xray | Exporter::Emf => None,
        Exporter::Console => Some(boxed_logs(ConsoleLogExporter::new(), resource)),
        Exporter::Otlp => {
            let exporter = otlp::logs(&settings.logs, connectors)?;
            Some(boxed_logs(exporter, resource))
        }
    })
}

#[cfg(feature = "metrics")]
fn metrics(
    settings: &Settings,
    reader: Option<&SharedReader>,
    connectors: &mut Connectors,
) -> Result<Option<crate::flush::MetricsExport>, Error> {
    use crate::export::boxed::ExportMetrics;
    use crate::export::console::ConsoleMetricExporter;
    use crate::export::emf::EmfExporter;
    let Some(reader) = reader else {
        return Ok(None);
    };
    let exporter: Box<dyn ExportMetrics> = match settings.metrics.exporter {
        Exporter::None | Exporter::Xray => return Ok(None),
        Exporter::Emf => Box::new(
            EmfExporter::new(settings.emf_namespace.clone()).with_level(settings.emf_level),
        ),
        Exporter::Console => {
            Box::new(ConsoleMetricExporter::new().with_temporality(settings.temporality))
        }
        Exporter::Otlp => Box::new(otlp::metrics(
            &settings.metrics,
            settings.temporality,
            connectors,
        )?),
    };
    Ok(Some(crate::flush::MetricsExport {
        exporter,
        reader: reader.clone(),
    }))
}

/// The X-Ray exporter, with its (blocking-free, standard library) UDP socket.
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
        variable: crate::config::env::OTEL_TRACES_EXPORTER,
        value: "xray".into(),
        feature: "xray",
    })
}

fn boxed_spans<E: SpanExporter + 'static>(mut e: E, resource: &Resource) -> Box<dyn ExportSpans> {
    e.set_resource(resource);
    Box::new(e)
}

#[cfg(feature = "logs")]
fn boxed_logs<E: LogExporter + 'static>(mut e: E, resource: &Resource) -> Box<dyn ExportLogs> {
    e.set_resource(resource);
    Box::new(e)
}
