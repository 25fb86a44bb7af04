//! What `Sampled=0` in Lambda's X-Ray header does, and the SDK switch.

mod common;

use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use lambda_otel::XraySampled;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

const UNSAMPLED: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:abc:0";

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

fn unsampled() -> Vec<Invocation> {
    vec![Invocation::new("req-1", event("apigw-v2-roll.json")).with_xray(UNSAMPLED)]
}

/// Lambda's X-Ray header gives the parent only through the `xray-lambda` propagator (the
/// default is `tracecontext,baggage`), as a function reporting to X-Ray sets it.
fn propagate_from_lambdas_xray_header() {
    // SAFETY: cargo nextest runs one test per process; nothing reads the environment yet.
    unsafe { std::env::set_var("OTEL_PROPAGATORS", "xray-lambda") };
}

#[tokio::test(flavor = "current_thread")]
async fn by_default_sampled_0_still_exports_in_the_xray_trace() {
    propagate_from_lambdas_xray_header();
    let function = Function::start(unsampled(), Behaviour::Ok, |b| b);
    function.run(echo);
    function.wait_for_next_polls(2).await;
    let (_, span) = function.invocation_span("req-1");
    assert_eq!(span.trace_id, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(span.parent_span_id, "53995c3f42cd8ad8");
}

#[tokio::test(flavor = "current_thread")]
async fn honoring_sampled_0_drops_the_trace() {
    // Without the X-Ray parent the span would be a root, sampled, and exported.
    propagate_from_lambdas_xray_header();
    let function = Function::start(unsampled(), Behaviour::Ok, |b| {
        b.with_xray_sampled(XraySampled::Honor)
    });
    function.run(echo);
    // Flushing happens before the next poll: nothing has arrived by then, nothing will.
    function.wait_for_next_polls(2).await;
    assert!(
        function.spans().is_empty(),
        "{}",
        function.timeline.describe()
    );
    assert_eq!(
        function.receiver.requests(),
        0,
        "nothing to export, no request"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_disabled_sdk_passes_everything_through() {
    let invocations = vec![Invocation::new("req-1", event("apigw-v2-roll.json"))];
    let function = Function::start(invocations, Behaviour::Ok, |b| b.with_sdk_disabled(true));
    function.run(echo);
    function.wait_for_next_polls(2).await;
    assert!(
        function
            .timeline
            .events()
            .iter()
            .any(|e| e.is_outcome_for("req-1"))
    );
    assert_eq!(function.receiver.requests(), 0);
}
