//! The hung-collector scenario's function: each invocation ends `FLOOD_SPANS` spans, far more
//! than the span buffer holds (`OTEL_BSP_MAX_QUEUE_SIZE`, 2,048), through the real
//! lambda_runtime loop. With lambda-otel set up from the environment as the dice roller does,
//! or, with `FLOOD_TELEMETRY=off`, with no telemetry at all (the same spans go to no
//! subscriber): the baseline its peak RSS is compared with.
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};

/// Spans per invocation.
const SPANS: &str = "FLOOD_SPANS";
/// `off`: no telemetry.
const TELEMETRY: &str = "FLOOD_TELEMETRY";

async fn flood(spans: i64, _event: LambdaEvent<Value>) -> Result<Value, Error> {
    for step in 0..spans {
        tracing::info_span!("step", step).in_scope(|| ());
    }
    Ok(json!({ "spans": spans }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let spans: i64 = std::env::var(SPANS)
        .map_err(|_| format!("{SPANS} is not set"))?
        .parse()
        .map_err(|e| format!("{SPANS}: {e}"))?;
    let handler = service_fn(move |event| flood(spans, event));
    if std::env::var(TELEMETRY).is_ok_and(|v| v == "off") {
        return Runtime::new(handler).run().await;
    }
    let telemetry = lambda_otel::Telemetry::from_env()?;
    let otel = telemetry.layer();
    Runtime::new(otel.wrap(handler)).layer(otel).run().await
}
