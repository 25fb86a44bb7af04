//! The dice roller with no telemetry at all: the benchmark's baseline.
use lambda_http::{Adapter, service_fn};
use lambda_runtime::Runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    Runtime::new(Adapter::from(service_fn(dice_roller::handler)))
        .run()
        .await
}
