//! Entry point: telemetry from the environment, the OpenTelemetry layer around the handler.
use lambda_http::{Adapter, service_fn};
use lambda_runtime::Runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let telemetry = lambda_otel::Telemetry::from_env()?;
    let otel = telemetry.layer();
    // On SIGTERM (Lambda shutting the environment down), export what is left.
    telemetry.shutdown_on_sigterm().await;
    Runtime::new(Adapter::from(otel.wrap(service_fn(dice_roller::handler))))
        .layer(otel)
        .run()
        .await
}
