//! The platform records of the init phase and of each invocation, in the Telemetry API's
//! 2022-12-13 schema (field names and optional members as in AWS's emulator,
//! `interop/events_api.go`), built from what the loopback Runtime API saw and when.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::runtime_api::{FUNCTION_NAME, Invocation, MEMORY_SIZE_MB};
use super::telemetry_api::timestamp;

/// `platform.initStart`.
pub(super) fn init_start(initialization_type: &str) -> Value {
    json!({
        "initializationType": initialization_type,
        "phase": "init",
        "functionName": FUNCTION_NAME,
        "functionVersion": "$LATEST",
    })
}

/// `platform.initRuntimeDone`: the runtime asked for its first event.
pub(super) fn init_runtime_done(initialization_type: &str) -> Value {
    json!({ "initializationType": initialization_type, "phase": "init", "status": "success" })
}

/// `platform.extension`: an extension is ready (it called `/next` during init).
pub(super) fn extension(name: &str, events: &[String]) -> Value {
    json!({ "name": name, "state": "Ready", "events": events })
}

/// `platform.initReport`: init took `duration`.
pub(super) fn init_report(initialization_type: &str, duration: Duration) -> Value {
    json!({
        "initializationType": initialization_type,
        "phase": "init",
        "metrics": { "durationMs": millis(duration) },
    })
}

/// `platform.telemetrySubscription`.
pub(super) fn telemetry_subscription(name: &str, types: &[String]) -> Value {
    json!({ "name": name, "state": "Subscribed", "types": types })
}

/// Why Lambda ended an invocation itself, resetting the environment: the `status` and
/// `errorType` of its `platform.runtimeDone` and `platform.report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The deadline passed before the invoke phase was over: `timeout`, `Sandbox.Timedout`
    /// (the error type of AWS's emulator for Lambda Managed Instances, `rapid/model`, and of
    /// the error payload a timed-out invocation returns to its caller).
    Timeout,
    /// The runtime process exited during the invocation: `failure`, `Runtime.ExitError`
    /// (as in AWS's emulator, `fatalerror.RuntimeExit`).
    RuntimeExit,
}

impl Failure {
    fn status(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::RuntimeExit => "failure",
        }
    }

    fn error_type(self) -> &'static str {
        match self {
            Self::Timeout => "Sandbox.Timedout",
            Self::RuntimeExit => "Runtime.ExitError",
        }
    }
}

/// How the runtime ended an invocation: what it posted, and when.
#[derive(Debug)]
pub(super) struct Outcome {
    status: &'static str,
    error_type: Option<String>,
    produced_bytes: usize,
    arrived_at: Instant,
    arrived_wall: SystemTime,
    read: Duration,
}

impl Outcome {
    /// A response (`error` false) or an error post of `body`, whose request arrived at
    /// `arrived_at` and took `read` to read.
    pub(super) fn new(error: bool, body: &[u8], arrived_at: Instant, read: Duration) -> Self {
        let error_type = error.then(|| {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "Runtime.Unknown".to_owned())
        });
        Self {
            status: if error { "error" } else { "success" },
            error_type,
            produced_bytes: body.len(),
            arrived_at,
            arrived_wall: SystemTime::now() - arrived_at.elapsed(),
            read,
        }
    }
}

/// An invocation handed to the runtime and not yet reported.
#[derive(Debug)]
pub(super) struct Active {
    invocation: Invocation,
    /// Which hand-out this is (request ids may repeat).
    seq: u64,
    handed_at: Instant,
    handed_wall: SystemTime,
    outcome: Option<Outcome>,
    failure: Option<Failure>,
    runtime_done_at: Option<Instant>,
}

impl Active {
    /// `invocation`, handed out now as the `seq`-th.
    pub(super) fn new(invocation: Invocation, seq: u64) -> Self {
        Self {
            invocation,
            seq,
            handed_at: Instant::now(),
            handed_wall: SystemTime::now(),
            outcome: None,
            failure: None,
            runtime_done_at: None,
        }
    }

    /// Its request id.
    pub(super) fn request_id(&self) -> &str {
        &self.invocation.request_id
    }

    /// Which hand-out it is.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Lambda ends it with `failure`, whatever the runtime posted: the records produced from
    /// now on say so.
    pub(super) fn fail(&mut self, failure: Failure) {
        self.failure.get_or_insert(failure);
    }

    /// The runtime posted its outcome (the first one counts, as on Lambda).
    pub(super) fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome.get_or_insert(outcome);
    }

    /// Posted, and the runtime has not asked for another event since.
    pub(super) fn awaits_runtime_done(&self) -> bool {
        self.outcome.is_some() && self.runtime_done_at.is_none()
    }

    /// The runtime is done with it.
    pub(super) fn is_runtime_done(&self) -> bool {
        self.runtime_done_at.is_some()
    }

    /// `platform.start`.
    pub(super) fn start(&self) -> Value {
        let mut record = json!({ "requestId": self.request_id(), "version": "$LATEST" });
        self.add_tracing(&mut record);
        record
    }

    /// Marks the runtime done now (it asked for another event, or Lambda ended the invocation)
    /// and returns `platform.runtimeDone`; the response spans only when an outcome was posted.
    pub(super) fn runtime_done(&mut self) -> Value {
        let now = Instant::now();
        self.runtime_done_at = Some(now);
        let produced_bytes = self.outcome.as_ref().map_or(0, |o| o.produced_bytes);
        let mut record = json!({
            "requestId": self.request_id(),
            "status": self.status(),
            "metrics": {
                "durationMs": millis(now - self.handed_at),
                "producedBytes": produced_bytes,
            },
        });
        if let Some(outcome) = &self.outcome {
            record["spans"] = json!([
                {
                    "name": "responseLatency",
                    "start": timestamp(self.handed_wall),
                    "durationMs": millis(outcome.arrived_at - self.handed_at),
                },
                {
                    "name": "responseDuration",
                    "start": timestamp(outcome.arrived_wall),
                    "durationMs": millis(outcome.read),
                },
            ]);
        }
        self.add_outcome(&mut record);
        record
    }

    /// `platform.report`, now (every INVOKE extension is back in `/next`); `init` is the init
    /// duration, given for the first report only.
    pub(super) fn report(&self, init: Option<Duration>) -> Value {
        let duration = self.handed_at.elapsed();
        let mut metrics = json!({
            "durationMs": millis(duration),
            "billedDurationMs": duration.as_micros().div_ceil(1_000),
            "memorySizeMB": MEMORY_SIZE_MB,
            "maxMemoryUsedMB": max_memory_used_mb(),
        });
        if let Some(init) = init {
            metrics["initDurationMs"] = json!(millis(init));
        }
        let mut record = json!({
            "requestId": self.request_id(),
            "status": self.status(),
            "metrics": metrics,
        });
        self.add_outcome(&mut record);
        record
    }

    /// Lambda's failure first, else what the runtime posted.
    fn status(&self) -> &'static str {
        match (self.failure, &self.outcome) {
            (Some(failure), _) => failure.status(),
            (None, Some(outcome)) => outcome.status,
            (None, None) => Failure::RuntimeExit.status(),
        }
    }

    fn add_outcome(&self, record: &mut Value) {
        let error_type = match self.failure {
            Some(failure) => Some(failure.error_type()),
            None => self.outcome.as_ref().and_then(|o| o.error_type.as_deref()),
        };
        if let Some(error_type) = error_type {
            record["errorType"] = json!(error_type);
        }
        self.add_tracing(record);
    }

    fn add_tracing(&self, record: &mut Value) {
        if let Some(header) = &self.invocation.xray_trace_id {
            record["tracing"] = json!({ "type": "X-Amzn-Trace-Id", "value": header });
        }
    }
}

/// Milliseconds with microsecond precision, as Lambda writes durations.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

/// This process's peak resident memory in MB (`VmHWM`); 0 where `/proc` is not there.
fn max_memory_used_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb.div_ceil(1_024))
}
