//! The providers of a telemetry that is on (tracer, meter, logger, each with its processor or
//! reader and the flush that exports them), and the tracer of a disabled SDK.

use super::exporters_from_settings;
use crate::Error;
use crate::config::{Exporter, Settings, Signal};
use crate::flush::{Buffer, Flusher, InvocationSpanProcessor, Reporter};
use crate::propagation::LambdaSampler;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::Resource;
#[cfg(feature = "logs")]
use opentelemetry_sdk::logs::SdkLoggerProvider;
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{IdGenerator, Sampler, SdkTracerProvider};
use std::sync::Arc;

/// The tracer of a disabled SDK. The log lines still need the request id, which the stdout
/// writer finds in the invocation's context: so the layer still starts an invocation, with a
/// span that is never recorded and has no valid ids (a line shows no trace that goes nowhere);
/// [`LayerState::new`](crate::layer::LayerState::new) reads nothing from the event for it.
pub(super) fn request_ids_only() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .with_id_generator(NoIds)
        .build()
}

/// The ids of the disabled SDK's spans: invalid, so they are never shown nor propagated.
#[derive(Debug)]
struct NoIds;

impl IdGenerator for NoIds {
    fn new_trace_id(&self) -> TraceId {
        TraceId::INVALID
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::INVALID
    }
}

/// The providers of a telemetry that is on.
pub(super) struct Built {
    /// Always there: spans carry the context even when they are not exported.
    pub(super) tracer: SdkTracerProvider,
    #[cfg(feature = "metrics")]
    pub(super) meter: Option<SdkMeterProvider>,
    #[cfg(feature = "logs")]
    pub(super) logger: Option<SdkLoggerProvider>,
    /// The flush that exports every signal; `None` when none is exported.
    pub(super) flusher: Option<Flusher>,
}

/// The providers of the signals that are on, and the flush that exports them all.
pub(super) fn providers(settings: &Settings, resource: Resource) -> Result<Built, Error> {
    #[cfg(feature = "metrics")]
    let reader = metrics_reader(settings);
    #[cfg(not(feature = "metrics"))]
    let reader = None;
    let worker = exporters_from_settings::spawn_worker(settings, &resource, reader.as_ref())?;
    let mut tracer = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(LambdaSampler(settings.sampler.clone()));
    // X-Ray's segment route refuses trace ids that do not start with the epoch second.
    #[cfg(feature = "xray")]
    if settings.traces.exporter == Exporter::Xray {
        tracer = tracer.with_id_generator(opentelemetry_aws::trace::XrayIdGenerator::default());
    }
    let Some(worker) = worker else {
        return Ok(Built {
            tracer: tracer.build(),
            #[cfg(feature = "metrics")]
            meter: None,
            #[cfg(feature = "logs")]
            logger: None,
            flusher: None,
        });
    };
    let timeout = settings.flush_timeout;
    // One reporter for the flush and the buffers' background exports: one rate limit.
    let reporter = Arc::new(destinations(settings));
    let mut flusher = Flusher::new(worker.clone(), timeout, Arc::clone(&reporter));
    if settings.traces.exporter != Exporter::None {
        let cap = settings.span_queue_size;
        let buffer = Buffer::new(worker.clone(), timeout, cap, Arc::clone(&reporter));
        tracer = tracer.with_span_processor(InvocationSpanProcessor::new(
            Arc::clone(&buffer),
            settings.span_attribute_value_length_limit,
        ));
        flusher = flusher.with_spans(buffer);
    }
    #[cfg(feature = "logs")]
    let (flusher, logger) = if settings.logs.exporter == Exporter::None {
        (flusher, None)
    } else {
        let buffer = Buffer::new(worker, timeout, settings.log_queue_size, reporter);
        let processor = crate::flush::InvocationLogProcessor::new(Arc::clone(&buffer));
        let logger = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_log_processor(processor)
            .build();
        (flusher.with_logs(buffer), Some(logger))
    };
    #[cfg(feature = "metrics")]
    let (flusher, meter) = match reader {
        None => (flusher, None),
        Some(reader) => {
            let meter = SdkMeterProvider::builder()
                .with_resource(resource)
                .with_reader(reader)
                .build();
            let interval = settings.metric_export_interval;
            (flusher.with_metrics(interval), Some(meter))
        }
    };
    Ok(Built {
        tracer: tracer.build(),
        #[cfg(feature = "metrics")]
        meter,
        #[cfg(feature = "logs")]
        logger,
        flusher: Some(flusher),
    })
}

/// The meter provider's reader, when metrics are on: CloudWatch adds up what each EMF line
/// reports, so EMF needs deltas, whatever the OTLP temporality preference says.
#[cfg(feature = "metrics")]
fn metrics_reader(settings: &Settings) -> Option<crate::flush::SharedReader> {
    use opentelemetry_sdk::metrics::Temporality;
    let temporality = match settings.metrics.exporter {
        Exporter::Emf => Temporality::Delta,
        _ => settings.temporality,
    };
    (settings.metrics.exporter != Exporter::None)
        .then(|| crate::flush::SharedReader::new(temporality))
}

/// The reporter, told where each signal goes, so a warning says where the export was going
/// even when it only knows that the deadline passed.
fn destinations(settings: &Settings) -> Reporter {
    [
        (Signal::Traces, &settings.traces),
        (Signal::Metrics, &settings.metrics),
        (Signal::Logs, &settings.logs),
    ]
    .into_iter()
    .fold(Reporter::default(), |reporter, (signal, s)| {
        match s.exporter {
            Exporter::Otlp => {
                reporter.with_destination(signal, &crate::export::otlp::shown(&s.endpoint))
            }
            Exporter::Xray => reporter.with_destination(
                signal,
                &format!("the X-Ray daemon at {}", settings.xray_daemon_address),
            ),
            Exporter::Emf | Exporter::Console => reporter.with_destination(signal, "stdout"),
            Exporter::None => reporter,
        }
    })
}
