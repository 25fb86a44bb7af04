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

/// `OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none` with an async
/// `main` used to panic ("Cannot drop a runtime in a context where blocking is not allowed").
#[tokio::test(flavor = "current_thread")]
async fn every_signal_off_builds_from_an_async_main() {
    let vars = |name: &str| {
        let value = match name {
            "OTEL_TRACES_EXPORTER" | "OTEL_METRICS_EXPORTER" | "OTEL_LOGS_EXPORTER" => "none",
            _ => return None,
        };
        Some(value.to_owned())
    };
    let telemetry = Telemetry::builder()
        .with_env_lookup(vars)
        .build()
        .expect("everything off is valid");
    assert!(telemetry.meter_provider().is_none());
}

/// The AWS-native route (no export thread, no runtime of its own) builds from an async `main`
/// and shuts down from it.
#[tokio::test(flavor = "current_thread")]
async fn the_aws_native_route_builds_from_an_async_main() {
    let vars = |name: &str| {
        let value = match name {
            "OTEL_TRACES_EXPORTER" => "xray",
            "OTEL_METRICS_EXPORTER" => "emf",
            "OTEL_LOGS_EXPORTER" => "none",
            "AWS_XRAY_DAEMON_ADDRESS" => "udp:127.0.0.1:2000 tcp:127.0.0.1:2000",
            _ => return None,
        };
        Some(value.to_owned())
    };
    let telemetry = Telemetry::builder()
        .with_env_lookup(vars)
        .build()
        .expect("valid");
    assert!(telemetry.meter_provider().is_some());
    telemetry.shutdown().await;
}
