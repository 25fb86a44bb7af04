//! Set-up errors come back as errors, also from an async `main`.

use lambda_otel::{Telemetry, TracesExporter};

#[tokio::test(flavor = "current_thread")]
async fn an_exporter_that_cannot_be_built_is_an_error_not_a_panic() {
    let result = Telemetry::builder()
        .with_env_lookup(|_| None)
        .with_exporter(TracesExporter::Otlp)
        .with_endpoint("not a url")
        .build();
    let error = result
        .expect_err("an invalid endpoint is refused")
        .to_string();
    assert!(error.contains("OTLP"), "{error}");
}
