//! The end-to-end benchmark: real function binaries, a loopback Runtime API (with the
//! Extensions and Telemetry APIs), a loopback OTLP receiver, and a loopback X-Ray daemon for the
//! AWS-native route. Every configuration in `config::ALL` runs as its own process (and, for
//! the extension's, the lambda-otel extension as a second one), in alternating order, at two
//! receiver delays (the X-Ray route and the extension with nothing to forward at 0 ms only);
//! see the README's Performance section. Then the hung-collector scenario (`flood.rs`): peak
//! RSS with a collector that never answers, held to a bound.
//!
//! ```sh
//! scripts/bench.sh            # builds the binaries (profiles `e2e`, `extension`) and runs this
//! scripts/bench.sh --quick    # a short run that checks spans, freeze safety and the bound
//! ```

mod config;
mod extension;
mod flood;
mod function;
mod receiver;
mod report;
mod results;
mod run;
mod runtime_api;
mod server;
#[path = "shared/stage_line.rs"]
mod stage_line;
mod xray;

use config::Config;
use results::Summary;
use run::Binaries;
use runtime_api::Plan;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: lambda-otel-bench --bin-dir DIR [--extension PATH] [--rounds N] \
[--invocations N] [--slow-invocations N] [--warmup N] [--cold-starts N] [--flood-spans N] \
[--flood-invocations N] [--cpu N | --no-pin] [--only TEXT] [--stages] [--quick]";

/// The event: `GET /rolldice?player=Alice` from an HTTP API.
const EVENT: &[u8] = include_bytes!("../../events/apigw-v2-roll.json");
/// A remote collector's answer time.
const SLOW: Duration = Duration::from_millis(5);
/// How long the runner's readers of the function's output (stdout, X-Ray datagrams) pause
/// between drains: they wake at most once per pause instead of at every write the function
/// makes on the same CPU. The pipe and the socket buffer hold far more than a pause's worth.
const DRAIN_PAUSE: Duration = Duration::from_millis(10);

#[derive(Debug)]
struct Options {
    bin_dir: PathBuf,
    /// The extension's binary; `lambda-otel-extension` in `bin_dir` unless given.
    extension: Option<PathBuf>,
    rounds: usize,
    invocations: usize,
    slow_invocations: usize,
    warmup: usize,
    /// Processes started for their cold start alone, per configuration (0 ms; none with an
    /// extension): spawn to the first `/next` varies by a millisecond from one process to the
    /// next, so the rounds' few processes are too few for its median.
    cold_starts: usize,
    /// Spans in all in the hung-collector scenario, and the invocations they are ended in.
    flood_spans: usize,
    flood_invocations: usize,
    /// Whether the scenario also runs lambda-otel with the cap lifted, for reference.
    flood_uncapped: bool,
    cpu: Option<usize>,
    /// Only the configurations whose name contains this (and bare; and the function alone
    /// when an extension configuration is chosen, its billed time being compared with it).
    only: Option<String>,
    /// Whether the stage-marked configurations run too (`config::Config::stages`).
    stages: bool,
}

impl Options {
    fn binaries(&self) -> Binaries {
        Binaries {
            dir: self.bin_dir.clone(),
            extension: self
                .extension
                .clone()
                .unwrap_or_else(|| self.bin_dir.join(extension::NAME)),
        }
    }

    /// Whether `config` runs, given `--only`.
    fn selects(&self, config: &Config) -> bool {
        if config.stages.is_some() && !self.stages {
            return false;
        }
        let Some(only) = self.only.as_deref() else {
            return true;
        };
        // `=NAME`: that configuration alone (for profiling one row); else every name that
        // contains the text.
        let chosen = |c: &Config| match only.strip_prefix('=') {
            Some(name) => c.name == name,
            None => c.name.contains(only),
        };
        config.is_bare()
            || chosen(config)
            || (*config == config::AFTER_RESPONSE
                && config::ALL
                    .iter()
                    .any(|c| c.extension.is_some_and(|e| e.marks) && chosen(c)))
    }
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        bin_dir: PathBuf::new(),
        extension: None,
        rounds: 5,
        invocations: 1000,
        slow_invocations: 300,
        warmup: 100,
        cold_starts: 30,
        // The issue's: 200,000 spans in one invocation, as fast as they can be made.
        flood_spans: 200_000,
        flood_invocations: 1,
        flood_uncapped: true,
        cpu: std::thread::available_parallelism()
            .ok()
            .map(|n| usize::from(n) - 1),
        only: None,
        stages: false,
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
            "--extension" => o.extension = Some(value("--extension")?.into()),
            "--rounds" => o.rounds = number(&arg, value(&arg)?)?.max(1),
            "--invocations" => o.invocations = number(&arg, value(&arg)?)?,
            "--slow-invocations" => o.slow_invocations = number(&arg, value(&arg)?)?,
            "--warmup" => o.warmup = number(&arg, value(&arg)?)?,
            "--cold-starts" => o.cold_starts = number(&arg, value(&arg)?)?,
            "--flood-spans" => o.flood_spans = number(&arg, value(&arg)?)?,
            "--flood-invocations" => o.flood_invocations = number(&arg, value(&arg)?)?.max(1),
            "--cpu" => o.cpu = Some(number(&arg, value(&arg)?)?),
            "--no-pin" => o.cpu = None,
            "--only" => o.only = Some(value(&arg)?),
            "--stages" => o.stages = true,
            "--quick" => {
                o.rounds = 1;
                o.invocations = 60;
                o.slow_invocations = 30;
                o.warmup = 10;
                o.cold_starts = 2;
                o.stages = true;
                // Still 24 times the span buffer. The debug build makes spans slowly enough
                // that, without the cap, exports cut off at 2 s would free some of them: fewer
                // spans would not reach the bound even then.
                o.flood_spans = 50_000;
                o.flood_invocations = 1;
                o.flood_uncapped = false;
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
    let ran = runtime.block_on(async {
        let summaries = bench(&options).await?;
        let flood = if options
            .only
            .as_ref()
            .is_none_or(|only| flood::NAME.contains(only.as_str()))
        {
            let plan = flood::Scenario {
                spans: options.flood_spans,
                invocations: options.flood_invocations,
                uncapped: options.flood_uncapped,
            };
            Some(flood::run(&options.bin_dir, plan).await?)
        } else {
            None
        };
        Ok::<_, String>((summaries, flood))
    });
    match ran {
        Ok((summaries, flood)) => report(&options, &summaries, flood.as_ref()),
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
    let bins = options.binaries();
    let mut summaries = Vec::new();
    for delay in [Duration::ZERO, SLOW] {
        let invocations = if delay.is_zero() {
            options.invocations
        } else {
            options.slow_invocations
        };
        let mut group: Vec<Summary> = Vec::new();
        let selected = config::ALL
            .into_iter()
            .filter(|c| (delay.is_zero() || c.waits_for_collector()) && options.selects(c));
        for config in selected {
            let extension_binary = match config.extension {
                Some(_) => Some(size(&bins.extension)?),
                None => None,
            };
            group.push(Summary {
                config,
                delay,
                binary: size(&bins.dir.join(config.binary))?,
                extension_binary,
                runs: Vec::new(),
                cold_starts: Vec::new(),
            });
        }
        for round in 0..options.rounds {
            // Alternate: each round starts one configuration further on.
            for k in 0..group.len() {
                let index = (k + round) % group.len();
                let config = group[index].config;
                let measured = config
                    .extension
                    .and_then(|e| e.max_measured)
                    .map_or(invocations, |max| invocations.min(max));
                let plan = Plan {
                    run: u32::try_from(summaries.len() * 1000 + round * 10 + index)
                        .unwrap_or(u32::MAX),
                    total: options.warmup + measured,
                    warmup: options.warmup,
                    event: bytes::Bytes::from_static(EVENT),
                    idle: delay,
                    extension: config.extension.map(|_| extension::NAME),
                };
                let result = run::run(&bins, &config, plan).await?;
                eprintln!(
                    "bench: {} ms, round {}, {}: done",
                    delay.as_millis(),
                    round + 1,
                    config.name
                );
                group[index].runs.push(result);
            }
        }
        if delay.is_zero() {
            cold_starts(options, &bins, &mut group).await?;
        } else {
            // The same binaries start the same way whatever the collector's delay: the 5 ms
            // rows' cold start is the 0 ms rows' (the rounds' five processes are too few).
            for summary in &mut group {
                if let Some(zero) = summaries
                    .iter()
                    .find(|s: &&Summary| s.config == summary.config && !s.cold_starts.is_empty())
                {
                    summary.cold_starts = zero.cold_starts.clone();
                }
            }
        }
        summaries.extend(group);
    }
    Ok(summaries)
}

/// Starts each configuration of `group` without an extension or stage marks
/// `options.cold_starts` times, in alternating order, for one invocation each: their
/// spawn-to-first-`/next` times are the cold start the report gives (the median).
async fn cold_starts(
    options: &Options,
    bins: &Binaries,
    group: &mut [Summary],
) -> Result<(), String> {
    // The stage-marked rows report no cold start (their table has none).
    let chosen: Vec<usize> = (0..group.len())
        .filter(|&i| group[i].config.extension.is_none() && group[i].config.stages.is_none())
        .collect();
    for round in 0..options.cold_starts {
        for k in 0..chosen.len() {
            let index = chosen[(k + round) % chosen.len()];
            let config = group[index].config;
            let plan = Plan {
                // Apart from the rounds' run numbers (below 2^31).
                run: 0x8000_0000 | u32::try_from(round * 100 + index).unwrap_or(0x7fff_ffff),
                total: 1,
                warmup: 0,
                event: bytes::Bytes::from_static(EVENT),
                idle: Duration::ZERO,
                extension: None,
            };
            let result = run::run(bins, &config, plan).await?;
            group[index].cold_starts.push(result.cold_start);
        }
    }
    if options.cold_starts > 0 {
        eprintln!(
            "bench: 0 ms, cold starts: {} processes per configuration",
            options.cold_starts
        );
    }
    Ok(())
}

/// A binary's size, bytes.
fn size(binary: &std::path::Path) -> Result<u64, String> {
    std::fs::metadata(binary).map(|m| m.len()).map_err(|e| {
        format!(
            "{}: {e} (build it first: scripts/bench.sh)",
            binary.display()
        )
    })
}

fn report(options: &Options, summaries: &[Summary], flood: Option<&flood::Flood>) -> ExitCode {
    println!("## End-to-end benchmark\n");
    println!("{}\n", report::machine(options.cpu));
    println!(
        "{} rounds; per process {} warm-up invocations, then {} measured (0 ms) or {} (5 ms; \
         every configuration also idles 5 ms before each event); cold start: the median of {} \
         more processes per configuration, each started for one invocation (the same in both \
         tables)\n",
        options.rounds,
        options.warmup,
        options.invocations,
        options.slow_invocations,
        options.cold_starts
    );
    for delay in [Duration::ZERO, SLOW] {
        println!("{}", report::table(summaries, delay));
    }
    for delay in [Duration::ZERO, SLOW] {
        println!("{}", report::extension_table(summaries, delay));
    }
    println!("{}", report::per_invocation(summaries));
    println!("{}", report::stages_table(summaries));
    if let Some(flood) = flood {
        println!("{}", flood.table());
    }
    println!("\n## Targets (lambda-otel against bare, same run)\n");
    let mut failed = false;
    let verdicts = report::verdicts(summaries)
        .into_iter()
        .chain(report::extension_verdicts(summaries));
    for verdict in verdicts {
        println!(
            "- [{}] {}",
            if verdict.met { "x" } else { " " },
            verdict.what
        );
        failed |= verdict.correctness && !verdict.met;
    }
    let mut bounded = true;
    if let Some(flood) = flood {
        bounded = flood.within_bound();
        println!(
            "- [{}] {}",
            if bounded { "x" } else { " " },
            flood.verdict()
        );
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
    if !bounded && let Some(flood) = flood {
        eprintln!(
            "bench: under a hung collector lambda-otel's peak RSS grew {:.2} MB over bare, past \
             the bound of {} MB: memory is not bounded by count",
            flood.growth_mb(),
            flood::BOUND_MB
        );
        return ExitCode::FAILURE;
    }
    if failed {
        eprintln!(
            "bench: lambda-otel lost spans or X-Ray documents, was not freeze-safe, wrote too \
             few EMF lines or failed invocations, or the extension did not exit on SHUTDOWN"
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
