//! The hung-collector scenario: memory is bounded by count, not by time. A function ends far
//! more spans than lambda-otel holds (2,048, `OTEL_BSP_MAX_QUEUE_SIZE`) while the OTLP
//! receiver accepts every connection, reads every request and never answers, with a 2 s flush
//! timeout; its peak RSS is compared with the same function's without telemetry, in the same
//! run. Each export holds its spans' place in the cap until it is over (done, failed or cut off
//! at its deadline), so what piles up behind a hung collector is at most the cap: past it, new
//! spans are dropped and counted. An unbounded queue to the export thread grew by every span
//! ended (issue: 200,000 spans took peak RSS from 8 MB to 78 MB); the full run shows it with
//! the cap lifted (`OTEL_BSP_MAX_QUEUE_SIZE=1000000`), for reference.

use crate::config::LAMBDA_LOGGING;
use crate::function::Function;
use crate::receiver::Receiver;
use crate::runtime_api::{self, Plan, RuntimeApi};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The function: `src/bin/span-flood.rs`.
const BINARY: &str = "span-flood";
/// The flush timeout, the issue's: each export is cut off 2 s after it starts.
const FLUSH_TIMEOUT_MS: u64 = 2000;
/// The most lambda-otel's peak RSS may exceed bare's, MB (10⁶ bytes). Measured: +4.0 to +5.2 MB
/// (release, 200,000 spans in one to four invocations) and +6.7 to +7.1 MB (debug, 20,000 to
/// 100,000 spans); with the cap lifted, +99 to +142 MB (release, 200,000 spans in one
/// invocation) and +18 MB (debug, 50,000 spans: the debug build makes spans so slowly that
/// exports cut off at 2 s free some of them on the way).
pub const BOUND_MB: f64 = 12.0;
/// The row's label, also what `--only` matches.
pub const NAME: &str = "lambda-otel, hung collector";
/// The reference row's: no bound.
const UNCAPPED: &str = "lambda-otel, hung collector, cap lifted (OTEL_BSP_MAX_QUEUE_SIZE=1000000)";

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Spans in all, over `invocations` invocations (as many in each).
    pub spans: usize,
    pub invocations: usize,
    /// Whether to run lambda-otel with the cap lifted too, for reference.
    pub uncapped: bool,
}

/// What one process did.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Peak RSS (`VmHWM`) when it asked for the event after the last one, bytes.
    pub peak_rss: u64,
    /// Spawn → the `/next` after the last invocation.
    pub elapsed: Duration,
    /// OTLP requests the receiver read (and never answered): traces, then metrics and logs.
    pub requests: (usize, usize),
}

/// The processes of the scenario.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    /// Spans in all, over `invocations` invocations.
    pub spans: usize,
    pub invocations: usize,
    pub bare: Outcome,
    pub otel: Outcome,
    /// lambda-otel with the cap lifted, when run.
    pub uncapped: Option<Outcome>,
}

impl Flood {
    /// lambda-otel's peak RSS over bare's, MB.
    pub fn growth_mb(&self) -> f64 {
        (self.otel.peak_rss as f64 - self.bare.peak_rss as f64) / 1e6
    }

    /// Whether the growth is within [`BOUND_MB`].
    pub fn within_bound(&self) -> bool {
        self.growth_mb() <= BOUND_MB
    }

    /// The target line.
    pub fn verdict(&self) -> String {
        format!(
            "{NAME}: peak RSS {:+.2} MB over bare for {} (bound ≤ +{BOUND_MB} MB)",
            self.growth_mb(),
            self.what()
        )
    }

    /// How many spans in how many invocations.
    fn what(&self) -> String {
        match self.invocations {
            1 => format!("{} spans in one invocation", self.spans),
            n => format!(
                "{} spans in {n} invocations of {}",
                self.spans,
                self.spans / n
            ),
        }
    }

    /// The section of the report.
    pub fn table(&self) -> String {
        let mut out = format!(
            "## Hung collector: memory bounded by count\n\n{}, flush timeout {} s; the OTLP \
             receiver reads every request and never answers; one process each, peak RSS \
             (VmHWM) at the `/next` after the last invocation\n\n| configuration | peak RSS | \
             run time | OTLP requests (traces + metrics/logs), none answered |\n\
             |---|---|---|---|\n",
            self.what(),
            FLUSH_TIMEOUT_MS / 1000
        );
        let mb = |o: &Outcome| o.peak_rss as f64 / 1e6;
        let _ = writeln!(
            out,
            "| {} | {:.2} MB | {:.1} s | - |",
            crate::config::BARE.name,
            mb(&self.bare),
            self.bare.elapsed.as_secs_f64()
        );
        let rows = [(NAME, Some(self.otel)), (UNCAPPED, self.uncapped)];
        for (name, outcome) in rows {
            let Some(o) = outcome else { continue };
            let _ = writeln!(
                out,
                "| {name} | {:.2} MB ({:+.2}) | {:.1} s | {} + {} |",
                mb(&o),
                mb(&o) - mb(&self.bare),
                o.elapsed.as_secs_f64(),
                o.requests.0,
                o.requests.1
            );
        }
        out
    }
}

/// The three ways the function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telemetry {
    Off,
    Capped,
    Uncapped,
}

/// Runs bare, lambda-otel, then (if asked) lambda-otel with the cap lifted.
pub async fn run(bin_dir: &Path, scenario: Scenario) -> Result<Flood, String> {
    let invocations = scenario.invocations.max(1);
    let per_invocation = scenario.spans.div_ceil(invocations);
    let binary = bin_dir.join(BINARY);
    let bare = one(&binary, Telemetry::Off, per_invocation, invocations).await?;
    let otel = one(&binary, Telemetry::Capped, per_invocation, invocations).await?;
    if otel.requests.0 == 0 {
        return Err(format!(
            "{NAME}: no trace export reached the receiver, so nothing waited on it"
        ));
    }
    let uncapped = if scenario.uncapped {
        Some(one(&binary, Telemetry::Uncapped, per_invocation, invocations).await?)
    } else {
        None
    };
    Ok(Flood {
        spans: per_invocation * invocations,
        invocations,
        bare,
        otel,
        uncapped,
    })
}

async fn one(
    binary: &Path,
    telemetry: Telemetry,
    per_invocation: usize,
    invocations: usize,
) -> Result<Outcome, String> {
    let name = match telemetry {
        Telemetry::Off => crate::config::BARE.name,
        Telemetry::Capped => NAME,
        Telemetry::Uncapped => UNCAPPED,
    };
    let receiver = Arc::new(
        Receiver::hung()
            .await
            .map_err(|e| format!("receiver: {e}"))?,
    );
    let plan = Plan {
        run: 9000 + telemetry as u32,
        total: invocations,
        warmup: 0,
        event: bytes::Bytes::from_static(crate::EVENT),
        idle: Duration::ZERO,
        extension: None,
    };
    let api = RuntimeApi::start(plan.clone(), Arc::clone(&receiver), None)
        .await
        .map_err(|e| format!("runtime API: {e}"))?;
    let mut env = api.env();
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()));
    env.push(("OTEL_SERVICE_NAME", runtime_api::FUNCTION_NAME.to_owned()));
    env.extend(LAMBDA_LOGGING.iter().map(|&(k, v)| (k, v.to_owned())));
    env.push(("LAMBDA_OTEL_FLUSH_TIMEOUT_MS", FLUSH_TIMEOUT_MS.to_string()));
    env.push(("FLOOD_SPANS", per_invocation.to_string()));
    match telemetry {
        Telemetry::Off => env.push(("FLOOD_TELEMETRY", "off".to_owned())),
        Telemetry::Capped => {}
        Telemetry::Uncapped => env.push(("OTEL_BSP_MAX_QUEUE_SIZE", "1000000".to_owned())),
    }

    let started = Instant::now();
    let mut function = Function::spawn(binary, &env).map_err(|e| {
        format!(
            "{}: {e} (build it first: scripts/bench.sh)",
            binary.display()
        )
    })?;
    // Bounded: each invocation waits at most the flush timeout for the hung collector.
    let bound = Duration::from_secs(30)
        + Duration::from_secs(10) * u32::try_from(invocations).unwrap_or(u32::MAX);
    function.wait_until(api.finished(), bound, name).await?;
    let elapsed = started.elapsed();
    let peak_rss = function.peak_rss().map_err(|e| format!("peak RSS: {e}"))?;
    function
        .finish()
        .map_err(|e| format!("{name}: stdout: {e}"))?;
    let timeline = api.take_timeline();
    let answered = timeline.responded.iter().flatten().count();
    if timeline.errors > 0 || answered < invocations {
        return Err(format!(
            "{name}: {answered} of {invocations} invocations answered, {} with an error",
            timeline.errors
        ));
    }
    let totals = receiver.totals();
    if totals.rejected > 0 {
        return Err(format!(
            "{name}: {} OTLP requests could not be decoded",
            totals.rejected
        ));
    }
    eprintln!("bench: hung-collector scenario, {name}: done");
    Ok(Outcome {
        peak_rss,
        elapsed,
        requests: (totals.trace_requests, totals.other_requests),
    })
}
