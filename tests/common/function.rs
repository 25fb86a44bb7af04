//! A function under test: the loopback servers, the environment, and lambda-otel set up
//! against them, as a user's `main` would.

use super::otlp::{Behaviour, OtlpReceiver, ReceivedSpan};
use super::runtime_api::{Emulation, Invocation, RuntimeApi};
use super::timeline::{Timeline, TimelineEvent};
use lambda_otel::{Exporter, Telemetry, TelemetryBuilder};
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::Value;
use std::future::Future;

/// The servers and the telemetry of one test.
pub struct Function {
    pub timeline: Timeline,
    pub api: RuntimeApi,
    pub receiver: OtlpReceiver,
    pub telemetry: Telemetry,
}

impl Function {
    /// Starts the servers, sets the Lambda environment and installs telemetry exporting every
    /// signal to the receiver; `configure` adds the test's own settings.
    pub fn start(
        invocations: Vec<Invocation>,
        behaviour: Behaviour,
        configure: impl FnOnce(TelemetryBuilder) -> TelemetryBuilder,
    ) -> Self {
        Self::start_in(Timeline::new(), invocations, behaviour, configure)
    }

    /// As [`start`](Self::start), on a timeline other servers (the X-Ray daemon) share.
    pub fn start_in(
        timeline: Timeline,
        invocations: Vec<Invocation>,
        behaviour: Behaviour,
        configure: impl FnOnce(TelemetryBuilder) -> TelemetryBuilder,
    ) -> Self {
        Self::start_emulated(
            timeline,
            invocations,
            Emulation::default(),
            behaviour,
            configure,
        )
    }

    /// As [`start_in`](Self::start_in), with the Extensions and Telemetry APIs as `emulation`
    /// says (external extensions, Lambda Managed Instances, SHUTDOWN).
    pub fn start_emulated(
        timeline: Timeline,
        invocations: Vec<Invocation>,
        emulation: Emulation,
        behaviour: Behaviour,
        configure: impl FnOnce(TelemetryBuilder) -> TelemetryBuilder,
    ) -> Self {
        let receiver = OtlpReceiver::start(timeline.clone(), behaviour);
        let api = RuntimeApi::start_with(timeline.clone(), invocations, emulation);
        api.set_env();
        // Metrics with every invocation's flush, so a test sees each invocation's; the tests of
        // the export interval set their own in code, which wins. Through the environment, as
        // the builder's setter only exists with the `metrics` feature.
        // SAFETY: as in `RuntimeApi::set_env`: one test per process, before anything reads it.
        unsafe {
            std::env::set_var("AWS_REGION", "eu-west-1");
            std::env::set_var("OTEL_METRIC_EXPORT_INTERVAL", "0");
        }
        let builder = Telemetry::builder()
            .with_traces_exporter(Exporter::Otlp)
            .with_otlp_endpoint(receiver.endpoint());
        let telemetry = configure(builder)
            .try_init()
            .expect("valid telemetry settings");
        Self {
            timeline,
            api,
            receiver,
            telemetry,
        }
    }

    /// Runs the real lambda_runtime loop with `handler`, wrapped the way the README says.
    pub fn run<F, Fut>(&self, handler: F)
    where
        F: Fn(LambdaEvent<Value>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, Error>> + Send + 'static,
    {
        let otel = self.telemetry.layer();
        tokio::spawn(
            Runtime::new(otel.wrap(service_fn(handler)))
                .layer(otel)
                .run(),
        );
    }

    /// Waits (off the executor) until the runtime has polled `/next` `n` times.
    pub async fn wait_for_next_polls(&self, n: usize) -> Vec<TimelineEvent> {
        let timeline = self.timeline.clone();
        tokio::task::spawn_blocking(move || timeline.wait_for_next_polls(n))
            .await
            .expect("the wait panicked")
    }

    /// Every span received, with the index of the timeline event that brought it.
    pub fn spans(&self) -> Vec<(usize, ReceivedSpan)> {
        self.timeline
            .events()
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.exported_spans().iter().cloned().map(move |s| (i, s)))
            .collect()
    }

    /// The invocation span of `request_id`, and where in the timeline it arrived.
    pub fn invocation_span(&self, request_id: &str) -> (usize, ReceivedSpan) {
        let mut found: Vec<_> = self
            .spans()
            .into_iter()
            .filter(|(_, s)| s.attr_str("faas.invocation_id") == Some(request_id))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one span for {request_id}; timeline:\n{}",
            self.timeline.describe()
        );
        found.remove(0)
    }

    /// Where in the timeline `pred` first holds.
    pub fn position(&self, pred: impl Fn(&TimelineEvent) -> bool, what: &str) -> usize {
        self.timeline.position(pred, what)
    }
}

/// A sample event from `events/`.
pub fn event(name: &str) -> Vec<u8> {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
