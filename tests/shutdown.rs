//! Lambda's shutdown (SIGTERM): what is still buffered is exported, then the provider stops.

mod common;

use common::function::Function;
use common::otlp::Behaviour;
use opentelemetry::trace::{Tracer, TracerProvider as _};

#[tokio::test(flavor = "current_thread")]
async fn shutdown_exports_what_is_buffered() {
    let function = Function::start(Vec::new(), Behaviour::Ok, |b| b);
    let provider = function
        .telemetry
        .tracer_provider()
        .expect("enabled")
        .clone();
    // A span ended outside any invocation (at init, say) waits in the buffer for a flush.
    provider.tracer("init").in_span("warm-up", |_| ());
    assert_eq!(
        function.receiver.requests(),
        0,
        "nothing exported before the flush"
    );

    function.telemetry.shutdown().await;

    let spans = function.receiver.spans();
    assert!(spans.iter().any(|s| s.name == "warm-up"), "{spans:?}");
}
