//! One run: a function process against its own loopback Runtime API, OTLP receiver and, for
//! the X-Ray route, X-Ray daemon, from spawn to the `/next` after its last invocation.

use crate::config::{Config, Traces};
use crate::extension::{self, Extension};
use crate::function::{Function, wait_all};
use crate::receiver::Receiver;
use crate::results::RunResult;
use crate::runtime_api::{self, Plan, RuntimeApi, Timeline};
use crate::stage_line;
use crate::xray::{self, XrayDaemon};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the binaries under test are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The functions' build directory.
    pub dir: PathBuf,
    /// The extension's binary (its own profile, `extension`).
    pub extension: PathBuf,
}

/// Runs `config`'s binary through `plan`, with the extension beside it if the configuration
/// has one; the receiver answers after the plan's idle time.
pub async fn run(bins: &Binaries, config: &Config, plan: Plan) -> Result<RunResult, String> {
    let binary = bins.dir.join(config.binary);
    let delay = plan.idle;
    let receiver = Arc::new(
        Receiver::start(delay)
            .await
            .map_err(|e| format!("receiver: {e}"))?,
    );
    let daemon = match config.traces {
        Traces::Xray => Some(Arc::new(
            XrayDaemon::start().map_err(|e| format!("X-Ray daemon: {e}"))?,
        )),
        Traces::None | Traces::Otlp => None,
    };
    let api = RuntimeApi::start(plan.clone(), Arc::clone(&receiver), daemon.clone())
        .await
        .map_err(|e| format!("runtime API: {e}"))?;
    // Lambda starts the extensions, and they register, before the runtime starts.
    let mut extension = match config.extension {
        Some(with) => {
            Some(Extension::start(&bins.extension, &api, &receiver.endpoint(), with.env).await?)
        }
        None => None,
    };
    let mut env = api.env();
    let endpoint = extension
        .as_ref()
        .map_or_else(|| receiver.endpoint(), |e| e.endpoint().to_owned());
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint));
    env.push(("OTEL_SERVICE_NAME", runtime_api::FUNCTION_NAME.to_owned()));
    if let Some(daemon) = &daemon {
        env.extend(xray_env(daemon));
    }
    env.extend(config.env.iter().map(|&(k, v)| (k, v.to_owned())));
    if let Some(setup) = config.stages {
        env.push(("BENCH_STAGES_SETUP", setup.to_owned()));
        env.push(("BENCH_STAGES_WARMUP", plan.warmup.to_string()));
        env.push(("BENCH_STAGES_TOTAL", plan.total.to_string()));
    }

    let mut function =
        Function::spawn(&binary, &env).map_err(|e| format!("{}: {e}", binary.display()))?;
    api.set_function(
        function
            .cpu_clock()
            .map_err(|e| format!("CPU clock: {e}"))?,
        function.pid(),
    );
    // Bounded: a function (or extension) that hangs or dies ends the benchmark with an error.
    // Without the mark each invocation waits for the Telemetry API's 25 ms.
    let per_invocation = Duration::from_millis(80) + delay;
    let bound =
        Duration::from_secs(30) + per_invocation * u32::try_from(plan.total).unwrap_or(u32::MAX);
    match extension.as_mut() {
        Some(ext) => {
            let mut processes = [
                (config.name, &mut function),
                (extension::NAME, ext.process()),
            ];
            wait_all(&mut processes, api.finished(), bound).await?;
        }
        None => {
            function
                .wait_until(api.finished(), bound, config.name)
                .await?;
        }
    }
    let peak_rss = function.peak_rss().map_err(|e| format!("peak RSS: {e}"))?;
    let cpu_used = api.cpu_used();
    // SHUTDOWN before the function goes: deferred mode forwards the last invocation's spans then.
    let extension = match extension {
        Some(ext) => {
            let peak_rss = ext.peak_rss()?;
            let cpu = cpu_used
                .extension
                .ok_or_else(|| format!("{}: extension CPU time not read", config.name))?;
            let registered = api.registered();
            Some(ext.shutdown(&api, registered, cpu, peak_rss).await?)
        }
        None => None,
    };
    let spawned = function.spawned;
    let (stdout, output) = function
        .finish_output()
        .map_err(|e| format!("{}: stdout: {e}", config.name))?;
    let stages = if config.stages.is_some() {
        let line = String::from_utf8_lossy(&output)
            .lines()
            .find_map(stage_line::parse)
            .ok_or_else(|| format!("{}: no stage line on stdout", config.name))?;
        Some(line)
    } else {
        None
    };

    let timeline = api.take_timeline();
    let first_poll = *timeline.polls.first().ok_or("no /next")?;
    let measured = plan.warmup..plan.total;
    let mut response = Vec::with_capacity(measured.len());
    let mut post_response = Vec::with_capacity(measured.len());
    let mut billed_post_response = Vec::with_capacity(measured.len());
    for i in measured.clone() {
        let responded =
            timeline.responded[i].ok_or_else(|| format!("invocation {i}: no response"))?;
        response.push(responded.saturating_duration_since(timeline.handed_out[i]));
        post_response.push(timeline.polls[i + 1].saturating_duration_since(responded));
        billed_post_response.push(timeline.frozen[i + 1].saturating_duration_since(responded));
    }
    let cpu = cpu_used
        .function
        .ok_or_else(|| format!("{}: CPU time not read", config.name))?;
    let totals = receiver.totals();
    if totals.rejected > 0 {
        return Err(format!(
            "{}: {} OTLP requests could not be decoded",
            config.name, totals.rejected
        ));
    }
    let delivered = match daemon {
        Some(daemon) => xray_delivered(config, &daemon, &plan, &timeline)?,
        None => otlp_delivered(config, &receiver, &plan, &timeline, totals.spans),
    };
    Ok(RunResult {
        cold_start: first_poll.saturating_duration_since(spawned),
        response,
        post_response,
        billed_post_response,
        cpu,
        measured: measured.len(),
        peak_rss,
        invocations: plan.total,
        spans_received: delivered.received,
        freeze_safe: delivered.freeze_safe,
        errors: timeline.errors,
        spans_total: delivered.total,
        requests: (totals.trace_requests, totals.other_requests),
        stdout,
        extension,
        deliveries: timeline.deliveries,
        stages,
    })
}

/// What Lambda sets with Active tracing, the daemon being ours.
fn xray_env(daemon: &XrayDaemon) -> [(&'static str, String); 4] {
    let addr = daemon.addr();
    [
        ("AWS_XRAY_DAEMON_ADDRESS", addr.to_string()),
        ("_AWS_XRAY_DAEMON_ADDRESS", addr.ip().to_string()),
        ("_AWS_XRAY_DAEMON_PORT", addr.port().to_string()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned()),
    ]
}

/// The expected spans (or documents) that arrived, the invocations that were freeze-safe, and
/// every span (or document) received.
struct Delivered {
    received: usize,
    freeze_safe: usize,
    total: usize,
}

/// The Runtime API asked the receiver at every freeze point: an OTLP export is answered, so
/// its spans were recorded before the function (or the extension) could poll again. Spans are
/// counted after `SHUTDOWN`, so deferred mode's last forward is in.
fn otlp_delivered(
    config: &Config,
    receiver: &Receiver,
    plan: &Plan,
    timeline: &Timeline,
    total: usize,
) -> Delivered {
    if !config.traced() {
        return Delivered {
            received: 0,
            freeze_safe: 0,
            total,
        };
    }
    Delivered {
        received: (0..plan.total)
            .map(|i| receiver.arrived(&plan.request_id(i)).count())
            .sum(),
        freeze_safe: timeline.freeze_safe.iter().filter(|&&safe| safe).count(),
        total,
    }
}

/// A datagram is in the daemon's socket once `sendto` returns, whoever reads it and when: each
/// document's kernel arrival time is compared with the wall-clock time of the next `/next`.
fn xray_delivered(
    config: &Config,
    daemon: &XrayDaemon,
    plan: &Plan,
    timeline: &Timeline,
) -> Result<Delivered, String> {
    let received = daemon
        .finish()
        .map_err(|e| format!("{}: X-Ray daemon: {e}", config.name))?;
    if received.overflowed > 0 {
        return Err(format!(
            "{}: the X-Ray daemon's socket dropped {} datagrams (its buffer was full)",
            config.name, received.overflowed
        ));
    }
    if received.rejected > 0 {
        return Err(format!(
            "{}: {} datagrams were not a header line and a segment document",
            config.name, received.rejected
        ));
    }
    let tally = xray::tally(&received.documents, plan, &timeline.polled_at);
    Ok(Delivered {
        received: tally.received,
        freeze_safe: tally.freeze_safe,
        total: received.documents.len(),
    })
}
