//! The end-to-end benchmark: real function binaries, a loopback Runtime API, a loopback OTLP
//! receiver. Every configuration in `config::ALL` runs as its own process, in alternating
//! order, at two receiver delays; see the README's Performance section.
//!
//! ```sh
//! scripts/bench.sh            # builds the binaries (profile `e2e`) and runs this
//! scripts/bench.sh --quick    # a short run that checks spans and freeze safety only
//! ```

mod config;
mod function;
mod receiver;
mod report;
mod results;
mod runtime_api;
mod server;

use config::Config;
use function::Function;
use receiver::Receiver;
use results::{RunResult, Summary};
use runtime_api::{Plan, RuntimeApi};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage: lambda-otel-bench --bin-dir DIR [--rounds N] [--invocations N] \
[--slow-invocations N] [--warmup N] [--cpu N | --no-pin] [--only TEXT] [--quick]";

/// The event: `GET /rolldice?player=Alice` from an HTTP API.
const EVENT: &[u8] = include_bytes!("../../events/apigw-v2-roll.json");
/// A remote collector's answer time.
const SLOW: Duration = Duration::from_millis(5);

#[derive(Debug)]
struct Options {
    bin_dir: PathBuf,
    rounds: usize,
    invocations: usize,
    slow_invocations: usize,
    warmup: usize,
    cpu: Option<usize>,
    /// Only the configurations whose name contains this (and bare), for profiling.
    only: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        bin_dir: PathBuf::new(),
        rounds: 5,
        invocations: 1000,
        slow_invocations: 300,
        warmup: 100,
        cpu: std::thread::available_parallelism()
            .ok()
            .map(|n| usize::from(n) - 1),
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let number = |name: &str, v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{name}: expected a whole number, got {v:?}\n{USAGE}"))
        };
        match arg.as_str() {
            "--bin-dir" => o.bin_dir = value("--bin-dir")?.into(),
            "--rounds" => o.rounds = number(&arg, value(&arg)?)?.max(1),
            "--invocations" => o.invocations = number(&arg, value(&arg)?)?,
            "--slow-invocations" => o.slow_invocations = number(&arg, value(&arg)?)?,
            "--warmup" => o.warmup = number(&arg, value(&arg)?)?,
            "--cpu" => o.cpu = Some(number(&arg, value(&arg)?)?),
            "--no-pin" => o.cpu = None,
            "--only" => o.only = Some(value(&arg)?),
            "--quick" => {
                o.rounds = 1;
                o.invocations = 60;
                o.slow_invocations = 30;
                o.warmup = 10;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if o.bin_dir.as_os_str().is_empty() {
        return Err(format!("--bin-dir is required\n{USAGE}"));
    }
    Ok(o)
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if let Some(cpu) = options.cpu
        && let Err(e) = pin(cpu)
    {
        eprintln!("bench: cannot pin to CPU {cpu}: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: no Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(&options)) {
        Ok(summaries) => report(&options, &summaries),
        Err(message) => {
            eprintln!("bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Pins this process, and so every function it spawns, to one CPU.
fn pin(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

async fn bench(options: &Options) -> Result<Vec<Summary>, String> {
    let mut summaries = Vec::new();
    for delay in [Duration::ZERO, SLOW] {
        let invocations = if delay.is_zero() {
            options.invocations
        } else {
            options.slow_invocations
        };
        let mut group: Vec<Summary> = Vec::new();
        let selected = config::ALL.into_iter().filter(|c| {
            !c.traced
                || options
                    .only
                    .as_ref()
                    .is_none_or(|only| c.name.contains(only.as_str()))
        });
        for config in selected {
            let binary = options.bin_dir.join(config.binary);
            let size = std::fs::metadata(&binary)
                .map_err(|e| {
                    format!(
                        "{}: {e} (build it first: scripts/bench.sh)",
                        binary.display()
                    )
                })?
                .len();
            group.push(Summary {
                config,
                delay,
                binary: size,
                runs: Vec::new(),
            });
        }
        for round in 0..options.rounds {
            // Alternate: each round starts one configuration further on.
            for k in 0..group.len() {
                let index = (k + round) % group.len();
                let config = group[index].config;
                let plan = Plan {
                    run: u32::try_from(summaries.len() * 1000 + round * 10 + index)
                        .unwrap_or(u32::MAX),
                    total: options.warmup + invocations,
                    warmup: options.warmup,
                    event: bytes::Bytes::from_static(EVENT),
                    idle: delay,
                };
                let result = run(&options.bin_dir, &config, plan).await?;
                eprintln!(
                    "bench: {} ms, round {}, {}: done",
                    delay.as_millis(),
                    round + 1,
                    config.name
                );
                group[index].runs.push(result);
            }
        }
        summaries.extend(group);
    }
    Ok(summaries)
}

/// One process from spawn to the `/next` after its last invocation; the receiver answers after
/// the plan's idle time.
async fn run(bin_dir: &Path, config: &Config, plan: Plan) -> Result<RunResult, String> {
    let binary = bin_dir.join(config.binary);
    let delay = plan.idle;
    let receiver = Arc::new(
        Receiver::start(delay)
            .await
            .map_err(|e| format!("receiver: {e}"))?,
    );
    let api = RuntimeApi::start(plan.clone(), Arc::clone(&receiver))
        .await
        .map_err(|e| format!("runtime API: {e}"))?;
    let mut env = api.env();
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()));
    env.push(("OTEL_SERVICE_NAME", runtime_api::FUNCTION_NAME.to_owned()));
    env.extend(config.env.iter().map(|&(k, v)| (k, v.to_owned())));

    let mut function =
        Function::spawn(&binary, &env).map_err(|e| format!("{}: {e}", binary.display()))?;
    api.set_cpu_clock(
        function
            .cpu_clock()
            .map_err(|e| format!("CPU clock: {e}"))?,
    );
    // Bounded: a function that hangs or dies ends the benchmark with an error.
    let per_invocation = Duration::from_millis(50) + delay;
    let bound =
        Duration::from_secs(30) + per_invocation * u32::try_from(plan.total).unwrap_or(u32::MAX);
    let finished = api.finished();
    tokio::pin!(finished);
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        tokio::select! {
            () = &mut finished => break,
            _ = ticks.tick() => {
                if let Some(status) = function.exited() {
                    return Err(format!("{}: exited with {status} during the run", config.name));
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(format!("{}: not finished after {bound:?}", config.name));
                }
            }
        }
    }
    let peak_rss = function.peak_rss().map_err(|e| format!("peak RSS: {e}"))?;
    let spawned = function.spawned;
    drop(function);

    let timeline = api.take_timeline();
    let first_poll = *timeline.polls.first().ok_or("no /next")?;
    let measured = plan.warmup..plan.total;
    let mut response = Vec::with_capacity(measured.len());
    let mut post_response = Vec::with_capacity(measured.len());
    for i in measured.clone() {
        let responded =
            timeline.responded[i].ok_or_else(|| format!("invocation {i}: no response"))?;
        response.push(responded.saturating_duration_since(timeline.handed_out[i]));
        post_response.push(timeline.polls[i + 1].saturating_duration_since(responded));
    }
    let cpu = match (timeline.cpu_start, timeline.cpu_end) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => return Err(format!("{}: CPU time not read", config.name)),
    };
    let (spans_received, freeze_safe) = if config.traced {
        let arrived = (0..plan.total).map(|i| receiver.arrived(&plan.request_id(i)).count());
        (
            arrived.sum(),
            timeline.freeze_safe.iter().filter(|&&safe| safe).count(),
        )
    } else {
        (0, 0)
    };
    let totals = receiver.totals();
    if totals.rejected > 0 {
        return Err(format!(
            "{}: {} OTLP requests were not protobuf",
            config.name, totals.rejected
        ));
    }
    Ok(RunResult {
        cold_start: first_poll.saturating_duration_since(spawned),
        response,
        post_response,
        cpu,
        measured: measured.len(),
        peak_rss,
        invocations: plan.total,
        spans_received,
        freeze_safe,
        errors: timeline.errors,
        spans_total: totals.spans,
        requests: (totals.trace_requests, totals.other_requests),
    })
}

fn report(options: &Options, summaries: &[Summary]) -> ExitCode {
    println!("## End-to-end benchmark\n");
    println!("{}\n", report::machine(options.cpu));
    println!(
        "{} rounds; per process {} warm-up invocations, then {} measured (0 ms) or {} (5 ms; \
         every configuration also idles 5 ms before each event)\n",
        options.rounds, options.warmup, options.invocations, options.slow_invocations
    );
    for delay in [Duration::ZERO, SLOW] {
        println!("{}", report::table(summaries, delay));
    }
    println!("OTLP requests per invocation (traces + metrics/logs), spans per invocation:\n");
    for s in summaries {
        let invocations: usize = s.runs.iter().map(|r| r.invocations).sum();
        let (traces, other) = s
            .runs
            .iter()
            .fold((0, 0), |(t, o), r| (t + r.requests.0, o + r.requests.1));
        let spans: usize = s.runs.iter().map(|r| r.spans_total).sum();
        if s.config.traced {
            println!(
                "- {} @ {} ms: {:.2} + {:.2} requests, {:.2} spans",
                s.config.name,
                s.delay.as_millis(),
                traces as f64 / invocations as f64,
                other as f64 / invocations as f64,
                spans as f64 / invocations as f64
            );
        }
    }
    println!("\n## Targets (lambda-otel against bare, same run)\n");
    let mut failed = false;
    for verdict in report::verdicts(summaries) {
        println!(
            "- [{}] {}",
            if verdict.met { "x" } else { " " },
            verdict.what
        );
        failed |= verdict.correctness && !verdict.met;
    }
    let errors: usize = summaries
        .iter()
        .flat_map(|s| &s.runs)
        .map(|r| r.errors)
        .sum();
    if errors > 0 {
        eprintln!("bench: {errors} invocations posted errors");
        failed = true;
    }
    if failed {
        eprintln!("bench: lambda-otel lost spans, was not freeze-safe or failed invocations");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
