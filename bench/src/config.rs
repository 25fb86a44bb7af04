//! The configurations under test: which binary, with which environment, held to which targets.

use crate::report::{AWS_NATIVE_TARGETS, OTLP_TARGETS, Targets};

/// Where a configuration's spans go, and so how the runner counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traces {
    /// No spans: the baseline.
    None,
    /// OTLP/HTTP to the loopback receiver (`receiver.rs`).
    Otlp,
    /// X-Ray segment documents over UDP to the loopback daemon (`xray.rs`).
    Xray,
}

/// One configuration of the dice roller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// The row's label.
    pub name: &'static str,
    /// The binary, in the build directory.
    pub binary: &'static str,
    /// Variables on top of Lambda's own.
    pub env: &'static [(&'static str, &'static str)],
    /// Where its spans go (two per invocation, to be delivered before the next `/next`).
    pub traces: Traces,
    /// Whether it writes its metrics as EMF lines on stdout (at least one per invocation).
    pub emf: bool,
    /// lambda-otel's configurations are held to targets; `None` for the references.
    pub targets: Option<Targets>,
    /// Whether the flush runs after the response is posted (the response must not wait for it).
    pub after_response: bool,
}

impl Config {
    /// Whether it sends spans at all.
    pub fn traced(&self) -> bool {
        self.traces != Traces::None
    }

    /// Whether the receiver's answer delay means anything for it: UDP is fire-and-forget, so
    /// at 5 ms the X-Ray route would only measure what it measures at 0 ms.
    pub fn waits_for_collector(&self) -> bool {
        self.traces != Traces::Xray
    }
}

/// Lambda's logging configuration from `template.yaml`.
pub const LAMBDA_LOGGING: [(&str, &str); 2] = [
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
];

/// The baseline: no telemetry.
pub const BARE: Config = Config {
    name: "bare (no telemetry)",
    binary: "bare",
    env: &[],
    traces: Traces::None,
    emf: false,
    targets: None,
    after_response: false,
};

/// Every configuration, baseline first.
pub const ALL: [Config; 6] = [
    BARE,
    Config {
        name: "lambda-otel, after-response",
        binary: "dice-roller",
        env: &[
            LAMBDA_LOGGING[0],
            LAMBDA_LOGGING[1],
            ("LAMBDA_OTEL_FLUSH", "after-response"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ],
        traces: Traces::Otlp,
        emf: false,
        targets: Some(OTLP_TARGETS),
        after_response: true,
    },
    Config {
        name: "lambda-otel, before-response",
        binary: "dice-roller",
        env: &[
            LAMBDA_LOGGING[0],
            LAMBDA_LOGGING[1],
            ("LAMBDA_OTEL_FLUSH", "before-response"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ],
        traces: Traces::Otlp,
        emf: false,
        targets: Some(OTLP_TARGETS),
        after_response: false,
    },
    Config {
        name: "lambda-otel, after-response, + metrics + logs",
        binary: "dice-roller",
        env: &[
            LAMBDA_LOGGING[0],
            LAMBDA_LOGGING[1],
            ("LAMBDA_OTEL_FLUSH", "after-response"),
        ],
        traces: Traces::Otlp,
        emf: false,
        targets: Some(OTLP_TARGETS),
        after_response: true,
    },
    // The AWS-native route: Lambda's X-Ray header parents the invocation span (the Runtime API
    // sends `Sampled=1`, as with Active tracing); the daemon's address is added by the runner.
    Config {
        name: "lambda-otel, after-response, xray + emf",
        binary: "dice-roller",
        env: &[
            LAMBDA_LOGGING[0],
            LAMBDA_LOGGING[1],
            ("LAMBDA_OTEL_FLUSH", "after-response"),
            ("OTEL_TRACES_EXPORTER", "xray"),
            ("OTEL_METRICS_EXPORTER", "emf"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_PROPAGATORS", "tracecontext,baggage,xray-lambda"),
        ],
        traces: Traces::Xray,
        emf: true,
        targets: Some(AWS_NATIVE_TARGETS),
        after_response: true,
    },
    Config {
        name: "lambda_runtime OpenTelemetryLayer",
        binary: "runtime-layer",
        env: &[],
        traces: Traces::Otlp,
        emf: false,
        targets: None,
        after_response: true,
    },
];
