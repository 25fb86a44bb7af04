//! Entry point: telemetry from the environment, the OpenTelemetry layer around the handler.
use lambda_http::{Adapter, service_fn};
use lambda_runtime::Runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let telemetry = lambda_otel::Telemetry::from_env()?;
    let otel = telemetry.layer();
    let shutdown = telemetry.clone();
    lambda_runtime::spawn_graceful_shutdown_handler(
        move || async move { shutdown.shutdown().await },
    )
    .await;
    Runtime::new(Adapter::from(otel.wrap(service_fn(dice_roller::handler))))
        .layer(otel)
        .run()
        .await
}
