//! End to end: the dice roller binary under cargo lambda's emulator (`cargo lambda watch`),
//! invoked with every `*.json` file directly in `events/` through `cargo lambda invoke`, with
//! the console exporters printing the spans and metrics, and log lines in Lambda's JSON format.
//! Needs cargo-lambda from `scripts/setup-tools.sh`.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous: the first invocation builds the binary if needed.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo_lambda() -> PathBuf {
    let path = std::env::var_os("CARGO_LAMBDA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/cargo-lambda"));
    assert!(
        path.exists(),
        "cargo-lambda not found at {}: run scripts/setup-tools.sh (or set CARGO_LAMBDA)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `cargo lambda watch`, killed when the test ends.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(port: u16) -> Self {
        let mut child = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--ignore-changes", "-p", "dice-roller"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .current_dir(workspace())
            .env("OTEL_TRACES_EXPORTER", "console")
            .env("OTEL_METRICS_EXPORTER", "console")
            // Every invocation's metrics, so each sample's roll is counted on the console.
            .env("OTEL_METRIC_EXPORT_INTERVAL", "0")
            .env("OTEL_LOGS_EXPORTER", "none")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("OTEL_SERVICE_NAME", "dice-roller")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cargo lambda watch starts");
        let (tx, lines) = mpsc::channel();
        forward(child.stdout.take().expect("stdout"), tx.clone());
        forward(child.stderr.take().expect("stderr"), tx);
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads output until a line matches, or fails after the timeout with what was seen.
    fn wait_for_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no {what} from cargo lambda watch; output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Watch {
    /// A line already read that matches, else the next one that does.
    fn find_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        match self.seen.iter().rev().find(|l| pred(l)) {
            Some(line) => line.clone(),
            None => self.wait_for_line(what, pred),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(stream: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

fn invoke(port: u16, event: &str) -> Value {
    let output = Command::new(cargo_lambda())
        .args(["lambda", "invoke", "dice-roller", "--data-file"])
        .arg(workspace().join("events").join(event))
        .args([
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .output()
        .expect("cargo lambda invoke runs");
    assert!(
        output.status.success(),
        "invoke {event} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{event}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The sum of a console `dice.rolls` line's points; `None` for any other line.
fn rolls_total(line: &str) -> Option<i64> {
    let metric: Value = serde_json::from_str(line).ok()?;
    if metric["name"] != "dice.rolls" {
        return None;
    }
    let points = metric["data_points"].as_array()?;
    Some(points.iter().filter_map(|p| p["value"].as_i64()).sum())
}

/// Every `*.json` file directly in `events/` with the status it must get (see `events/README.md`).
const EXPECTED: [(&str, i64); 10] = [
    ("apigw-v2-roll.json", 200),
    ("apigw-v2-multi-roll.json", 200),
    ("apigw-v2-anonymous.json", 200),
    ("apigw-v2-rolls-zero.json", 400),
    ("apigw-v2-rolls-abc.json", 400),
    ("apigw-v2-rolls-too-many.json", 400),
    ("apigw-v2-player-too-long.json", 400),
    ("apigw-v2-wrong-method.json", 405),
    ("apigw-v2-wrong-path.json", 404),
    ("function-url-roll.json", 200),
];

fn check_body(event: &str, body: &Value) {
    let die = |v: &Value| v.as_i64().is_some_and(|n| (1..=6).contains(&n));
    match event {
        "apigw-v2-roll.json" => assert!(body["player"] == "Alice" && die(&body["roll"]), "{body}"),
        "function-url-roll.json" => {
            assert!(body["player"] == "Carol" && die(&body["roll"]), "{body}")
        }
        "apigw-v2-anonymous.json" => {
            assert!(body["player"].is_null() && die(&body["roll"]), "{body}")
        }
        "apigw-v2-multi-roll.json" => {
            let rolls = body["rolls"].as_array().expect("rolls");
            assert!(
                body["player"] == "Bob" && rolls.len() == 3 && rolls.iter().all(die),
                "{body}"
            );
        }
        _ => assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        ),
    }
}

#[test]
fn every_sample_event_gets_its_response_and_a_span() {
    // Only the files directly in `events/` are the dice roller's requests. Subdirectories
    // such as `events/triggers/` hold samples of other event sources (SQS, S3, ...) for the
    // trigger detection, which this function does not serve, so they are not listed here.
    let listed: Vec<String> = std::fs::read_dir(workspace().join("events"))
        .expect("events/")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().expect("file type").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    for name in &listed {
        assert!(
            EXPECTED.iter().any(|(e, _)| e == name),
            "{name} has no expected status here"
        );
    }

    let port = free_port();
    let mut watch = Watch::start(port);
    watch.wait_for_line("start-up", |l| l.contains("starting Runtime server"));

    for (event, status) in EXPECTED {
        let response = invoke(port, event);
        assert_eq!(response["statusCode"], status, "{event}: {response}");
        let body: Value = serde_json::from_str(response["body"].as_str().expect("body"))
            .unwrap_or_else(|e| panic!("{event}: body is not JSON: {e}"));
        check_body(event, &body);

        // The console exporter prints the invocation span once the invocation is flushed.
        let line = watch.wait_for_line("invocation span", |l| l.contains(r#""kind":"server""#));
        let span: Value = serde_json::from_str(&line).expect("a span is one JSON line");
        assert_eq!(
            span["attributes"]["http.response.status_code"], status,
            "{event}: {span}"
        );
        assert_eq!(span["attributes"]["faas.trigger"], "http");
        assert_eq!(span["resource"]["service.name"], "dice-roller");

        if event == "apigw-v2-roll.json" {
            // Logged in the handler, so before the span ended and was printed.
            let rolled = watch.find_line("the roll's log line", |l| {
                l.contains(r#""message":"Alice rolled"#)
            });
            let rolled: Value = serde_json::from_str(&rolled).expect("a JSON log line");
            assert_eq!(rolled["message"], format!("Alice rolled {}", body["roll"]));
            assert_eq!(rolled["trace_id"], span["trace_id"], "{rolled}");
            assert!(
                rolled["requestId"]
                    .as_str()
                    .is_some_and(|id| !id.is_empty())
            );
        }
    }
    // Cumulative: every flush after the first roll prints `dice.rolls` with all rolls so far;
    // Alice 1, Bob 3, anonymous 1 and Carol 1 make 6.
    let rolls = watch.find_line("dice.rolls at 6", |l| rolls_total(l) == Some(6));
    assert!(rolls.contains(r#""unit":"{roll}""#), "{rolls}");
    let invocations = watch.find_line("faas.invocations", |l| {
        l.contains(r#""name":"faas.invocations""#)
    });
    assert!(
        invocations.contains(r#""faas.trigger":"http""#),
        "{invocations}"
    );
}
