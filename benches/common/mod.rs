//! What the benchmarks of the invocation span share: the telemetry, the dice roller's request
//! and its handler.

use lambda_otel::__bench::Invocations;
use lambda_otel::telemetry::otel_layer;
use lambda_otel::{Exporter, Telemetry};
use lambda_runtime::{Config, LambdaInvocation};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::field::Empty;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::prelude::*;

/// The dice roller's request: `GET /rolldice?player=Alice` through the HTTP API.
pub const ROLL: &[u8] = include_bytes!("../../events/apigw-v2-roll.json");

/// Telemetry as `main` builds it, whatever the process environment says: traces to an OTLP
/// collector that is never reached (nothing flushes), logs off, metrics as `metrics` says.
pub fn invocations(metrics: Exporter) -> Invocations {
    // Without the `metrics` feature, `build` refuses any metrics exporter but `none`, naming
    // the feature.
    let telemetry = Telemetry::builder()
        .with_env_lookup(|_| None)
        .with_tracing_subscriber(false)
        .with_service_name("dice-roller")
        .with_otlp_endpoint("http://127.0.0.1:9")
        .with_traces_exporter(Exporter::Otlp)
        .with_metrics_exporter(metrics)
        .with_logs_exporter(Exporter::None)
        .build()
        .expect("the settings are valid");
    Invocations::new(&telemetry).expect("telemetry is on")
}

/// The invocation of `event` as lambda_runtime hands it to the layer: the context from the
/// Runtime API's headers (X-Ray trace header included) and the function's environment.
pub fn request(event: &'static [u8]) -> LambdaInvocation {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "0d6f1b7e-3c2a-4e59-9b8d-5a4c3e2f1a0b".into();
    let in_ten_seconds = SystemTime::now() + Duration::from_secs(10);
    let deadline = in_ten_seconds
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    context.deadline = u64::try_from(deadline.as_millis()).expect("a 64-bit timestamp");
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:dice-roller".into();
    context.xray_trace_id =
        Some("Root=1-6920cc10-3b2f8a91c4d7e6f05a1b2c3d;Parent=5d7e2c3a9f1b4d6e;Sampled=1".into());
    context.env_config = Arc::new(Config {
        function_name: "dice-roller".into(),
        memory: 128,
        version: "$LATEST".into(),
        log_stream: "2025/11/21/[$LATEST]8f3c2b1a0e9d4c7b6a5f4e3d2c1b0a99".into(),
        log_group: "/aws/lambda/dice-roller".into(),
    });
    LambdaInvocation {
        parts: http::Response::new(()).into_parts().0,
        body: bytes::Bytes::from_static(event),
        context,
    }
}

/// Makes `tracing` spans entered on this thread, until the guard is dropped, children of the
/// invocation span in `invocations`' buffer (the crate's [`otel_layer`]).
pub fn tracing_spans(invocations: &Invocations) -> DefaultGuard {
    let subscriber = tracing_subscriber::registry().with(otel_layer(invocations.tracer_provider()));
    tracing::subscriber::set_default(subscriber)
}

/// The dice roller's handler for `?player=Alice`: one die rolled in a `roll` span, with the
/// span's fields and the log event the roller records there; a 200 response.
pub fn roll() -> Option<i64> {
    let player = black_box("Alice");
    let value = black_box(4_i64);
    let span = tracing::info_span!(
        "roll",
        dice.player = player,
        dice.rolls = 1_i64,
        dice.value = Empty,
        dice.values = Empty
    );
    let _entered = span.enter();
    span.record("dice.value", value);
    tracing::info!(player, roll = value, "{player} rolled {value}");
    Some(200)
}
