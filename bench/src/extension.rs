//! The lambda-otel extension (`layer/`) as a process beside the function: started first, as
//! Lambda starts extensions before the runtime, on a free port (`LAMBDA_OTEL_EXTENSION_LISTEN=
//! 127.0.0.1:0`, the port read from its ready line), forwarding to the run's OTLP receiver;
//! at the end, `SHUTDOWN` and its exit within Lambda's 2 s budget.

use crate::function::Function;
use crate::runtime_api::RuntimeApi;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// The name it registers with (its file name), which the Runtime API expects.
pub const NAME: &str = "lambda-otel-extension";
/// The start of the line it prints once it listens, has registered and has subscribed.
const READY: &str = "[lambda-otel-extension] ready in ";
/// What it says when an invocation ended at its deadline, neither marked nor runtimeDone.
const DEADLINE_LINE: &str = "neither the function's flush mark";
const FORWARD_FAILED: &str = "forward failed";
const SHUTDOWN_LINE: &str = "[lambda-otel-extension] shutdown";
/// Lambda's shutdown budget for external extensions, then SIGKILL.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);
/// How long it may take to say it is ready (it registers first: seconds mean it is stuck).
const READY_BOUND: Duration = Duration::from_secs(10);

/// A running extension.
pub struct Extension {
    process: Function,
    /// `http://127.0.0.1:PORT`, for the function's `OTEL_EXPORTER_OTLP_ENDPOINT`.
    endpoint: String,
    /// The µs its ready line reports (its own start to ready).
    ready_us: Option<u64>,
}

/// What the extension did in one run.
#[derive(Debug, Clone)]
pub struct ExtensionRun {
    /// Spawn → `POST /extension/register` at the Runtime API.
    pub registration: Duration,
    /// Its own count, start to ready, from its ready line.
    pub ready_us: Option<u64>,
    /// CPU time over the measured invocations.
    pub cpu: Duration,
    /// Peak RSS (`VmHWM`) at the freeze point after the last invocation, bytes.
    pub peak_rss: u64,
    /// `SHUTDOWN` → exit; `None` if it was still running after the budget.
    pub shutdown_to_exit: Option<Duration>,
    /// How it exited (`None`: killed after the budget).
    pub exit: Option<ExitStatus>,
    /// Invocations it let end at their deadline, forwards that failed (from its log lines).
    pub deadline_fallbacks: usize,
    pub forward_failures: usize,
    /// Its last `shutdown (...)` line, with its counts.
    pub shutdown_line: Option<String>,
}

impl ExtensionRun {
    /// Whether it exited by itself, with success, within the budget.
    pub fn exited_cleanly(&self) -> bool {
        self.exit.is_some_and(|s| s.success())
            && self.shutdown_to_exit.is_some_and(|d| d <= SHUTDOWN_BUDGET)
    }
}

impl Extension {
    /// Starts `binary` with Lambda's environment and `env`, forwarding to `backend`; returns
    /// once it is ready (registered and subscribed).
    pub async fn start(
        binary: &Path,
        api: &RuntimeApi,
        backend: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let mut all = api.env();
        all.push(("LAMBDA_OTEL_EXTENSION_LISTEN", "127.0.0.1:0".to_owned()));
        all.push(("LAMBDA_OTEL_EXTENSION_ENDPOINT", backend.to_owned()));
        all.push((
            "LAMBDA_OTEL_EXTENSION_TELEMETRY_HOST",
            "127.0.0.1".to_owned(),
        ));
        all.extend(env.iter().map(|&(k, v)| (k, v.to_owned())));
        let (process, ready) = Function::spawn_watching(binary, &all, READY).map_err(|e| {
            format!(
                "{}: {e} (build it first: scripts/bench.sh)",
                binary.display()
            )
        })?;
        api.set_extension(
            process
                .cpu_clock()
                .map_err(|e| format!("{NAME}: CPU clock: {e}"))?,
            process.pid(),
        );
        let line = match tokio::time::timeout(READY_BOUND, ready).await {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => return Err(format!("{NAME}: stdout ended before its ready line")),
            Err(_) => return Err(format!("{NAME}: not ready after {READY_BOUND:?}")),
        };
        let listen = line
            .split_once("OTLP/HTTP on ")
            .and_then(|(_, rest)| rest.split(';').next())
            .filter(|addr| addr.starts_with("127.0.0.1:"))
            .ok_or_else(|| format!("{NAME}: no loopback address in its ready line {line:?}"))?;
        let ready_us = line
            .strip_prefix(READY)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok());
        Ok(Self {
            endpoint: format!("http://{listen}"),
            process,
            ready_us,
        })
    }

    /// Where the function exports to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The process, to watch during the run.
    pub fn process(&mut self) -> &mut Function {
        &mut self.process
    }

    /// Peak RSS so far, bytes.
    pub fn peak_rss(&self) -> Result<u64, String> {
        self.process
            .peak_rss()
            .map_err(|e| format!("{NAME}: peak RSS: {e}"))
    }

    /// Sends `SHUTDOWN` and waits for the exit, at most the budget and a little more (then it
    /// is killed); reads what it said.
    pub async fn shutdown(
        mut self,
        api: &RuntimeApi,
        registered: Option<Instant>,
        cpu: Duration,
        peak_rss: u64,
    ) -> Result<ExtensionRun, String> {
        let sent = api.shutdown(SHUTDOWN_BUDGET);
        let exit = self
            .process
            .wait_exit(SHUTDOWN_BUDGET + Duration::from_millis(500))
            .await;
        let shutdown_to_exit = exit.map(|_| sent.elapsed());
        let spawned = self.process.spawned;
        let (_, bytes) = self
            .process
            .finish_output()
            .map_err(|e| format!("{NAME}: stdout: {e}"))?;
        let text = String::from_utf8_lossy(&bytes);
        let lines = || {
            text.lines()
                .filter(|l| l.starts_with("[lambda-otel-extension]"))
        };
        Ok(ExtensionRun {
            registration: registered
                .ok_or_else(|| format!("{NAME}: never registered"))?
                .saturating_duration_since(spawned),
            ready_us: self.ready_us,
            cpu,
            peak_rss,
            shutdown_to_exit,
            exit,
            deadline_fallbacks: lines().filter(|l| l.contains(DEADLINE_LINE)).count(),
            forward_failures: lines().filter(|l| l.contains(FORWARD_FAILED)).count(),
            shutdown_line: lines()
                .rfind(|l| l.starts_with(SHUTDOWN_LINE))
                .map(str::to_owned),
        })
    }
}
