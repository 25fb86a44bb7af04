//! The configurations under test: which binary, with which environment.

/// One configuration of the dice roller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The row's label.
    pub name: &'static str,
    /// The binary, in the build directory.
    pub binary: &'static str,
    /// Variables on top of Lambda's own.
    pub env: &'static [(&'static str, &'static str)],
    /// Whether it sends spans (and so must deliver two per invocation, before the next `/next`).
    pub traced: bool,
    /// Whether it is lambda-otel, held to the targets.
    pub ours: bool,
    /// Whether the flush runs after the response is posted (the response must not wait for it).
    pub after_response: bool,
}

/// Lambda's logging configuration from `template.yaml`.
const LAMBDA_LOGGING: [(&str, &str); 2] = [
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
];

/// The baseline: no telemetry.
pub const BARE: Config = Config {
    name: "bare (no telemetry)",
    binary: "bare",
    env: &[],
    traced: false,
    ours: false,
    after_response: false,
};

/// Every configuration, baseline first.
pub const ALL: [Config; 5] = [
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
        traced: true,
        ours: true,
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
        traced: true,
        ours: true,
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
        traced: true,
        ours: true,
        after_response: true,
    },
    Config {
        name: "lambda_runtime OpenTelemetryLayer",
        binary: "runtime-layer",
        env: &[],
        traced: true,
        ours: false,
        after_response: true,
    },
];
