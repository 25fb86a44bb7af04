//! The dice roller instrumented the way `lambda_runtime` documents (`shared/peer.rs`): the
//! reference the wrapper is measured against.
use lambda_http::{Adapter, service_fn};
use lambda_runtime::Runtime;

#[path = "../shared/peer.rs"]
mod peer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    Runtime::new(Adapter::from(service_fn(dice_roller::handler)))
        .layer(peer::layer()?)
        .run()
        .await
}
