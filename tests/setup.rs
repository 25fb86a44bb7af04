//! Set-up errors come back as errors, also from an async `main`.

use lambda_otel::{Exporter, Telemetry};
use std::process::Command;

/// Set in the child: the `main` of the README's quick start runs, and fails.
const CHILD: &str = "LAMBDA_OTEL_TEST_SETUP_MAIN";

/// The error a bad `OTEL_TRACES_EXPORTER` gives.
fn zipkin_error() -> lambda_otel::Error {
    Telemetry::builder()
        .with_env_lookup(|name| (name == "OTEL_TRACES_EXPORTER").then(|| "zipkin".to_owned()))
        .build()
        .expect_err("zipkin is not an exporter of this crate")
}

#[tokio::test(flavor = "current_thread")]
async fn an_exporter_that_cannot_be_built_is_an_error_not_a_panic() {
    let result = Telemetry::builder()
        .with_env_lookup(|_| None)
        .with_traces_exporter(Exporter::Otlp)
        .with_traces_endpoint("not a url")
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
    assert!(telemetry.tracer_provider().is_some());
    #[cfg(feature = "metrics")]
    assert!(telemetry.meter_provider().is_none());
}

/// The AWS-native route (no export thread, no runtime of its own) builds from an async `main`
/// and shuts down from it.
#[cfg(all(feature = "metrics", feature = "xray"))]
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

/// A `main` returning `lambda_runtime::Error` prints `Error: ` and the error's `Debug`: it
/// reads as the message, not as the enum's fields.
#[test]
fn a_setup_error_boxed_as_lambda_runtime_s_error_debugs_as_its_message() {
    let error = zipkin_error();
    let message = error.to_string();
    assert!(
        message.contains("OTEL_TRACES_EXPORTER") && message.contains("\"zipkin\""),
        "{message}"
    );
    let boxed = lambda_runtime::Error::from(error);
    assert_eq!(format!("{boxed:?}"), message);
}

/// The README's quick start, run as a test: libtest reports a test's `Err` exactly as Rust
/// reports `main`'s (`Termination`: `Error: ` and the `Debug`, on stderr).
#[tokio::test(flavor = "current_thread")]
#[ignore = "the failing main of the setup tests, run by them in a child process"]
async fn quick_start_main() -> Result<(), lambda_runtime::Error> {
    assert!(std::env::var_os(CHILD).is_some(), "run by the setup tests");
    let _telemetry = Telemetry::from_env()?;
    Ok(())
}

#[test]
fn a_main_failing_on_a_bad_variable_prints_the_message() {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "quick_start_main",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("OTEL_TRACES_EXPORTER", "zipkin")
        .output()
        .expect("the child runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "main returned the error: {stderr}"
    );
    let expected = format!("Error: {}", zipkin_error());
    assert!(
        stderr.lines().any(|line| line == expected),
        "expected the line {expected:?} in:\n{stderr}"
    );
    assert!(!stderr.contains("InvalidSetting"), "{stderr}");
}
