//! The `tls` feature: OTLP/HTTP to an `https` collector through our own client (rustls),
//! trusting the roots of `SSL_CERT_FILE`, with the headers of our settings alone.
//!
//! Each function runs in a child process (`run_ignored`), where `SSL_CERT_FILE` and
//! `OTEL_EXPORTER_OTLP_HEADERS` are set without reaching other tests; the HTTPS receiver runs
//! here, in the parent, which reads what it received.

#![cfg(feature = "tls")]

mod common;

use common::child::run_ignored;
use common::function::{Function, event};
use common::otlp::Behaviour;
use common::runtime_api::Invocation;
use common::tls::{HttpsReceiver, SelfSigned};
use lambda_otel::Telemetry;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use std::time::Duration;

/// The receiver's endpoint, for the child.
const CHILD_ENDPOINT: &str = "LAMBDA_OTEL_TEST_HTTPS_ENDPOINT";
/// The roots are `SSL_CERT_FILE`'s alone: rustls-native-certs also reads `SSL_CERT_DIR` when it
/// is set (it may be, on the machine running the tests), and an empty one names no directory.
const NO_CERT_DIR: (&str, &str) = ("SSL_CERT_DIR", "");
/// What the child prints before the outcome of a start-up.
const STARTUP_MARKER: &str = "startup:";

async fn roll(_: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info_span!("roll").in_scope(|| tracing::info!("rolled a 4"));
    Ok(json!({"statusCode": 200, "body": "4"}))
}

/// The function, exporting to the endpoint of `CHILD_ENDPOINT` with a header set in code.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run by the tests below, in a child process with SSL_CERT_FILE set"]
async fn function() {
    let endpoint = std::env::var(CHILD_ENDPOINT).expect("the receiver's endpoint");
    let invocations = vec![Invocation::new("tls", event("apigw-v2-roll.json"))];
    let function = Function::start(invocations, Behaviour::Ok, |b| {
        b.with_otlp_endpoint(endpoint)
            .with_header("x-api-key", "from%20code")
            .with_flush_timeout(Duration::from_secs(10))
    });
    function.run(roll);
    function.wait_for_next_polls(2).await;
    function.telemetry.shutdown().await;
}

#[test]
fn spans_reach_an_https_collector_with_the_headers_of_our_settings_only() {
    let receiver = HttpsReceiver::start();
    let cert = receiver.certificate().write_pem("trusted");
    let stdout = run_ignored(
        "function",
        &[
            ("SSL_CERT_FILE", cert.to_str().expect("a UTF-8 path")),
            NO_CERT_DIR,
            (CHILD_ENDPOINT, &receiver.endpoint()),
            // The library adds these over the exporter's headers and decodes them again; our
            // settings read them once, under the header set in code.
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=from-the-environment,x-env-only=a%2520b",
            ),
        ],
    );
    let _ = std::fs::remove_file(&cert);
    assert!(
        !stdout.contains("telemetry export failed"),
        "no export failed:\n{stdout}"
    );
    let requests = receiver.requests();
    let spans: Vec<&str> = requests
        .iter()
        .flat_map(|r| r.span_names.iter().map(String::as_str))
        .collect();
    assert!(spans.contains(&"roll"), "spans received: {spans:?}");
    for path in ["/v1/traces", "/v1/logs", "/v1/metrics"] {
        assert!(
            requests.iter().any(|r| r.path == path),
            "{path} received: {requests:#?}"
        );
    }
    for request in &requests {
        assert!(
            ["TLSv1_3", "TLSv1_2"].contains(&request.tls_version.as_str()),
            "{request:#?}"
        );
        // Set in code: wins over the environment's, sent as given (`%20`, not decoded).
        assert_eq!(request.header("x-api-key"), ["from%20code"], "{request:#?}");
        // From the environment: percent-decoded once, by our settings.
        assert_eq!(request.header("x-env-only"), ["a%20b"], "{request:#?}");
    }
    assert_eq!(receiver.failed_handshakes(), 0);
}

#[test]
fn a_certificate_the_roots_do_not_vouch_for_fails_the_handshake_and_the_warning_says_so() {
    let receiver = HttpsReceiver::start();
    let other = SelfSigned::generate().write_pem("untrusted");
    let stdout = run_ignored(
        "function",
        &[
            ("SSL_CERT_FILE", other.to_str().expect("a UTF-8 path")),
            NO_CERT_DIR,
            (CHILD_ENDPOINT, &receiver.endpoint()),
        ],
    );
    let _ = std::fs::remove_file(&other);
    assert!(receiver.requests().is_empty(), "nothing got through");
    assert!(
        receiver.failed_handshakes() >= 1,
        "the export was attempted"
    );
    let warning = stdout
        .lines()
        .find(|l| l.contains("telemetry export failed"))
        .unwrap_or_else(|| panic!("a warning:\n{stdout}"));
    let traces = format!("{}/v1/traces", receiver.endpoint());
    assert!(
        warning.contains(&format!(
            "TLS handshake failed with {traces}: invalid peer certificate"
        )),
        "{warning}"
    );
}

/// Two start-ups with `SSL_CERT_FILE` naming no file: one exporting to `https`, one to
/// `http` (which needs no roots).
#[test]
#[ignore = "run by roots_that_cannot_be_loaded_are_a_start_up_error_naming_the_cause"]
fn startups() {
    for endpoint in ["https://127.0.0.1:4318", "http://127.0.0.1:4318"] {
        let outcome = Telemetry::builder()
            .with_otlp_endpoint(endpoint)
            .with_tracing_subscriber(false)
            .build();
        match outcome {
            Ok(telemetry) => {
                println!("{STARTUP_MARKER} {endpoint} ok");
                drop(telemetry);
            }
            Err(error) => println!("{STARTUP_MARKER} {endpoint} {error}"),
        }
    }
}

#[test]
fn roots_that_cannot_be_loaded_are_a_start_up_error_naming_the_cause() {
    let missing = std::env::temp_dir().join(format!(
        "lambda-otel-{}-no-such-file.pem",
        std::process::id()
    ));
    let stdout = run_ignored(
        "startups",
        &[
            ("SSL_CERT_FILE", missing.to_str().expect("a UTF-8 path")),
            NO_CERT_DIR,
        ],
    );
    let outcomes: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split(STARTUP_MARKER).nth(1))
        .collect();
    assert_eq!(outcomes.len(), 2, "{stdout}");
    let https = outcomes[0];
    assert!(
        https.starts_with(" https://127.0.0.1:4318 cannot build the OTLP exporter"),
        "{https}"
    );
    assert!(https.contains("no root certificate"), "{https}");
    assert!(
        https.contains(missing.to_str().expect("a UTF-8 path")),
        "the file is named: {https}"
    );
    assert_eq!(outcomes[1], " http://127.0.0.1:4318 ok");
}
