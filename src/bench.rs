//! Not part of the API: for the crate's benchmarks. The invocation span on its own: what the
//! layer does per invocation, without the runtime around it.

use crate::Error;
use crate::config::env::OTEL_SDK_DISABLED;
use crate::flush::{Buffer, Exporters, InvocationSpanProcessor, Worker};
use crate::invocation::Outcome;
use crate::layer::LayerState;
use crate::propagation::LambdaSampler;
use crate::telemetry::Telemetry;
use lambda_runtime::LambdaInvocation;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData};
use std::sync::Arc;
use std::time::Duration;

/// The timeout of the background export a full batch (512 spans) starts; that export goes
/// nowhere, see [`Invocations::take_spans`].
const EXPORT_TIMEOUT: Duration = Duration::from_millis(200);
/// The buffer's cap, the default of `OTEL_BSP_MAX_QUEUE_SIZE`.
const QUEUE_SIZE: usize = 2048;

/// Not part of the API: for the crate's benchmarks.
///
/// The layer's settings, FaaS metrics and `OnInvocation` hook, taken from a [`Telemetry`], with
/// a tracer of its own: a tracer provider with the default sampler (`parentbased_always_on`,
/// through the X-Ray rule) and the crate's span processor, whose buffer is this value's. A
/// telemetry's buffer is only emptied by a flush, which exports;
/// [`take_spans`](Self::take_spans) empties this one without exporting.
#[doc(hidden)]
#[derive(Debug)]
pub struct Invocations {
    state: LayerState,
    provider: SdkTracerProvider,
    spans: Arc<Buffer<SpanData>>,
}

impl Invocations {
    /// The layer of `telemetry`, with the tracer described above; its buffer's worker has no
    /// exporter and no thread.
    ///
    /// # Errors
    /// A layer without its state (telemetry that is off).
    pub fn new(telemetry: &Telemetry) -> Result<Self, Error> {
        let layer = telemetry.layer();
        let Some(state) = layer.state() else {
            return Err(Error::invalid(
                OTEL_SDK_DISABLED,
                true,
                "telemetry that is on: a disabled layer starts no span",
            ));
        };
        let worker = Worker::inline(Exporters::default());
        let spans = Buffer::new(worker, EXPORT_TIMEOUT, QUEUE_SIZE, Arc::default());
        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
        let provider = SdkTracerProvider::builder()
            .with_sampler(LambdaSampler(sampler))
            .with_span_processor(InvocationSpanProcessor::new(
                Arc::clone(&spans),
                crate::config::env::DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            ))
            .build();
        let mut state = state.clone();
        state.tracer = provider.tracer("lambda-otel");
        Ok(Self {
            state,
            provider,
            spans,
        })
    }

    /// One invocation of `req`, as the layer and the handler wrapper run it: starts the
    /// invocation span, runs `handler` with the span attached, records its response
    /// (`handler` returns the response's HTTP status code, if it has one), ends the span and
    /// records the FaaS metrics when they are on. The span goes to the buffer.
    pub fn invoke(&self, req: &LambdaInvocation, handler: impl FnOnce() -> Option<i64>) {
        let invocation = self.state.start(req);
        let status = {
            let _attached = invocation.context().clone().attach();
            handler()
        };
        invocation.record(&Outcome::Response(status));
        invocation.end(self.state.metrics.as_ref());
    }

    /// Takes the spans ended since the last call, as the per-invocation flush does, without
    /// exporting them. Take them at least every 512 spans: a buffer that reaches 512 hands
    /// them to its worker, which drops them.
    pub fn take_spans(&self) -> Vec<SpanData> {
        self.spans.take().0
    }

    /// The tracer provider the spans go to, for
    /// [`otel_layer`](crate::telemetry::otel_layer): `tracing` spans entered in a handler
    /// become children of the invocation span, in the same buffer.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

/// Not part of the API: for the crate's benchmarks.
///
/// The body of an OTLP/HTTP trace export (`http/protobuf`) as the exporter writes it, with
/// the resource encoded once beforehand, as the exporter does when it is set.
#[doc(hidden)]
#[derive(Debug)]
pub struct TracesBody(crate::export::otlp::protobuf::EncodedResource);

impl TracesBody {
    /// The resource every body carries.
    pub fn new(resource: &opentelemetry_sdk::Resource) -> Self {
        Self(crate::export::otlp::protobuf::EncodedResource::new(
            resource,
        ))
    }

    /// The body for `spans`.
    pub fn encode(&self, spans: &[SpanData]) -> Vec<u8> {
        crate::export::otlp::protobuf::traces_request(spans, &self.0)
    }
}
