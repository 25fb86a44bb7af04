//! The configurations under test: which binary, with which environment, held to which targets.

use crate::report::{
    AWS_NATIVE_TARGETS, DEFAULTS_TARGETS, OTLP_TARGETS, PEER, TRACES_ONLY_BUILD_TARGETS, Targets,
};

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
    /// The lambda-otel extension beside the function, when it runs with one.
    pub extension: Option<WithExtension>,
    /// For the stage-marked dice roller (`src/bin/stages.rs`), which reports where its time
    /// goes, the set-up it runs (`BENCH_STAGES_SETUP`: `bare`, `lambda-otel`, `peer`): run with
    /// `--stages`, at 0 ms only, in a table of its own. `None` for every other configuration.
    pub stages: Option<&'static str>,
}

/// How the extension runs beside a configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WithExtension {
    /// Its variables (`LAMBDA_OTEL_EXTENSION_*`) on top of the ones the runner sets.
    pub env: &'static [(&'static str, &'static str)],
    /// Whether the function speaks its protocol (lambda-otel marks the end of each flush), so
    /// the extension's targets apply (`report/extension.rs`, not `Config::targets`).
    pub marks: bool,
    /// Whether every invocation's spans must be at the receiver at the freeze point that ends
    /// it (the default mode); deferred mode forwards them during the next invocation.
    pub freeze_safe: bool,
    /// At most this many measured invocations per process (each waits for the Telemetry
    /// API's 25 ms without the mark).
    pub max_measured: Option<usize>,
}

impl Config {
    /// Whether it sends spans at all.
    pub fn traced(&self) -> bool {
        self.traces != Traces::None
    }

    /// Whether the receiver's answer delay means anything for it: UDP is fire-and-forget, so
    /// at 5 ms the X-Ray route would only measure what it measures at 0 ms; an extension with
    /// nothing to forward never reaches the receiver. Bare runs at every delay: the baseline.
    pub fn waits_for_collector(&self) -> bool {
        if self.stages.is_some() {
            return false;
        }
        match self.traces {
            Traces::Otlp => true,
            Traces::Xray => false,
            Traces::None => self.extension.is_none(),
        }
    }

    /// Whether it is the baseline.
    pub fn is_bare(&self) -> bool {
        *self == BARE
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
    extension: None,
    stages: None,
};

/// lambda-otel's traces over OTLP, flushed after the response, straight to the collector: the
/// function alone, which the extension's billed time is compared with.
pub const AFTER_RESPONSE: Config = Config {
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
    extension: None,
    stages: None,
};

/// The floor's row.
pub const FLOOR: &str = "floor: one OTLP request, no SDK";

/// The extension's mode variable.
const MODE: &str = "LAMBDA_OTEL_EXTENSION_MODE";

/// lambda-otel with its defaults (traces, metrics and logs over OTLP), flushed after the
/// response.
const DEFAULTS: Config = Config {
    name: "lambda-otel, after-response, + metrics + logs",
    binary: "dice-roller",
    env: &[
        LAMBDA_LOGGING[0],
        LAMBDA_LOGGING[1],
        ("LAMBDA_OTEL_FLUSH", "after-response"),
    ],
    traces: Traces::Otlp,
    emf: false,
    targets: Some(DEFAULTS_TARGETS),
    after_response: true,
    extension: None,
    stages: None,
};

/// lambda_runtime's own `OpenTelemetryLayer` (`src/bin/runtime-layer.rs`).
const PEER_ROW: Config = Config {
    name: PEER,
    binary: "runtime-layer",
    env: &[],
    traces: Traces::Otlp,
    emf: false,
    targets: None,
    after_response: true,
    extension: None,
    stages: None,
};

/// Every configuration, baseline first.
pub const ALL: [Config; 15] = [
    BARE,
    AFTER_RESPONSE,
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
        extension: None,
        stages: None,
    },
    DEFAULTS,
    // What a user who exports traces alone builds: lambda-otel with `lambda-http` alone
    // (`scripts/bench.sh` builds the dice roller with `--no-default-features` under this name).
    // Without their features, metrics and logs are off by default.
    Config {
        name: "lambda-otel, after-response, traces-only build",
        binary: "dice-roller-traces-only",
        env: DEFAULTS.env,
        targets: Some(TRACES_ONLY_BUILD_TARGETS),
        ..AFTER_RESPONSE
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
            // As the template sets it for this route: EMF lines with every invocation.
            ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_PROPAGATORS", "tracecontext,baggage,xray-lambda"),
        ],
        traces: Traces::Xray,
        emf: true,
        targets: Some(AWS_NATIVE_TARGETS),
        after_response: true,
        extension: None,
        stages: None,
    },
    PEER_ROW,
    // The floor under every OTLP configuration: the two spans sent as one OTLP/HTTP request
    // after each response, its answer awaited, with no SDK and no HTTP library
    // (`src/bin/otlp-floor.rs`). What it costs over bare, no exporter that waits can avoid.
    Config {
        name: FLOOR,
        binary: "otlp-floor",
        env: &[],
        traces: Traces::Otlp,
        emf: false,
        targets: None,
        after_response: true,
        extension: None,
        stages: None,
    },
    // The extension (`layer/`): the function alone's settings, exporting to the extension on
    // loopback, which forwards to the receiver. The runner points the function at it.
    Config {
        name: "lambda-otel + extension",
        extension: Some(WithExtension {
            env: &[(MODE, "end-of-invocation")],
            marks: true,
            freeze_safe: true,
            max_measured: None,
        }),
        targets: None,
        ..AFTER_RESPONSE
    },
    Config {
        name: "lambda-otel + extension, deferred",
        extension: Some(WithExtension {
            env: &[(MODE, "deferred")],
            marks: true,
            freeze_safe: false,
            max_measured: None,
        }),
        targets: None,
        ..AFTER_RESPONSE
    },
    // No crate, so no mark: the extension ends each invocation at the Telemetry API's
    // runtimeDone, 25 ms or more after the runtime's `/next`.
    Config {
        name: "bare + extension (no mark)",
        extension: Some(WithExtension {
            env: &[],
            marks: false,
            freeze_safe: false,
            max_measured: Some(200),
        }),
        ..BARE
    },
    // The same dice roller with stage marks (`src/bin/stages.rs`, `--stages`): bare, lambda-otel
    // with traces alone and with its defaults, and lambda_runtime's layer, each set up as its
    // row above.
    Config {
        name: STAGES_BARE,
        binary: STAGES,
        stages: Some("bare"),
        ..BARE
    },
    Config {
        name: "stages: lambda-otel, after-response",
        binary: STAGES,
        targets: None,
        stages: Some("lambda-otel"),
        ..AFTER_RESPONSE
    },
    Config {
        name: "stages: lambda-otel, after-response, + metrics + logs",
        binary: STAGES,
        targets: None,
        stages: Some("lambda-otel"),
        ..DEFAULTS
    },
    Config {
        name: "stages: lambda_runtime OpenTelemetryLayer",
        binary: STAGES,
        stages: Some("peer"),
        ..PEER_ROW
    },
];

/// The stage-marked bare function's row: the stage table's baseline.
pub const STAGES_BARE: &str = "stages: bare";

/// The stage-marked binary.
const STAGES: &str = "stages";
