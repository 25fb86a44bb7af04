//! The providers of a telemetry that is on (tracer, meter, logger, each with its processor or
//! reader and the flush that exports them), and the tracer of a disabled SDK.

use super::exporters_from_settings;
use crate::Error;
use crate::config::{Exporter, Settings, Signal};
use crate::flush::{
    Buffer, Flusher, InvocationLogProcessor, InvocationSpanProcessor, Reporter, SharedReader,
};
use crate::propagation::LambdaSampler;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
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
    pub(super) meter: Option<SdkMeterProvider>,
    pub(super) logger: Option<SdkLoggerProvider>,
    /// The flush that exports every signal; `None` when none is exported.
    pub(super) flusher: Option<Flusher>,
}

/// The providers of the signals that are on, and the flush that exports them all.
pub(super) fn providers(settings: &Settings, resource: Resource) -> Result<Built, Error> {
    // CloudWatch adds up what each EMF line reports: it needs deltas, whatever the OTLP
    // temporality preference says.
    let temporality = match settings.metrics.exporter {
        Exporter::Emf => Temporality::Delta,
        _ => settings.temporality,
    };
    let reader =
        (settings.metrics.exporter != Exporter::None).then(|| SharedReader::new(temporality));
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
            meter: None,
            logger: None,
            flusher: None,
        });
    };
    let timeout = settings.flush_timeout;
    // One reporter for the flush and the buffers' background exports: one rate limit.
    let reporter = Arc::new(destinations(settings));
    let mut flusher = Flusher::new(worker.clone(), timeout, Arc::clone(&reporter));
    let (mut logger, mut meter) = (None, None);
    if settings.traces.exporter != Exporter::None {
        let cap = settings.span_queue_size;
        let buffer = Buffer::new(worker.clone(), timeout, cap, Arc::clone(&reporter));
        tracer = tracer.with_span_processor(InvocationSpanProcessor::new(
            Arc::clone(&buffer),
            settings.span_attribute_value_length_limit,
        ));
        flusher = flusher.with_spans(buffer);
    }
    if settings.logs.exporter != Exporter::None {
        let buffer = Buffer::new(worker, timeout, settings.log_queue_size, reporter);
        let processor = InvocationLogProcessor::new(Arc::clone(&buffer));
        logger = Some(
            SdkLoggerProvider::builder()
                .with_resource(resource.clone())
                .with_log_processor(processor)
                .build(),
        );
        flusher = flusher.with_logs(buffer);
    }
    if let Some(reader) = reader {
        meter = Some(
            SdkMeterProvider::builder()
                .with_resource(resource)
                .with_reader(reader)
                .build(),
        );
        flusher = flusher.with_metrics(settings.metric_export_interval);
    }
    Ok(Built {
        tracer: tracer.build(),
        meter,
        logger,
        flusher: Some(flusher),
    })
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
