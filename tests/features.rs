//! A build without the `metrics` or `logs` feature: it starts with no variable set (the
//! signal's exporter defaults to `none`), and a variable that asks for the signal is a start-up
//! error naming the variable and the feature. Each test runs in the builds it is about:
//! `cargo nextest run -p lambda-otel --no-default-features` runs them all.

// With both features, the other tests cover the defaults.
#![cfg(not(all(feature = "metrics", feature = "logs")))]

use lambda_otel::{Error, Telemetry};

/// The error of building with `name=value` as the only variable set.
fn refused(name: &'static str, value: &'static str) -> Error {
    Telemetry::builder()
        .with_env_lookup(move |n| (n == name).then(|| value.to_owned()))
        .build()
        .expect_err("the signal's feature is off")
}

#[test]
fn a_build_without_metrics_or_logs_starts_with_no_variable_set() {
    let telemetry = Telemetry::builder()
        .with_env_lookup(|_| None)
        .build()
        .expect("the defaults need no feature this build leaves out");
    assert!(telemetry.tracer_provider().is_some(), "traces still on");
}

#[cfg(not(feature = "metrics"))]
#[test]
fn a_metrics_exporter_without_the_metrics_feature_is_refused_naming_both() {
    for value in ["otlp", "emf", "console"] {
        let error = refused("OTEL_METRICS_EXPORTER", value);
        assert!(
            matches!(
                &error,
                Error::FeatureDisabled {
                    variable: "OTEL_METRICS_EXPORTER",
                    feature: "metrics",
                    ..
                }
            ),
            "{error:#?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "OTEL_METRICS_EXPORTER={value} needs the `metrics` cargo feature of lambda-otel"
            )
        );
    }
    let off = Telemetry::builder()
        .with_env_lookup(|n| (n == "OTEL_METRICS_EXPORTER").then(|| "none".to_owned()))
        .build();
    assert!(off.is_ok(), "`none` needs no feature");
}

#[cfg(not(feature = "logs"))]
#[test]
fn a_logs_exporter_without_the_logs_feature_is_refused_naming_both() {
    for value in ["otlp", "console"] {
        let error = refused("OTEL_LOGS_EXPORTER", value);
        assert!(
            matches!(
                &error,
                Error::FeatureDisabled {
                    variable: "OTEL_LOGS_EXPORTER",
                    feature: "logs",
                    ..
                }
            ),
            "{error:#?}"
        );
        assert_eq!(
            error.to_string(),
            format!("OTEL_LOGS_EXPORTER={value} needs the `logs` cargo feature of lambda-otel")
        );
    }
}
