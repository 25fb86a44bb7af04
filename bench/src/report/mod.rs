//! The tables, the targets, and the machine it ran on; the extension's in `extension.rs`.

mod extension;

pub use extension::{extension_table, extension_verdicts};

use crate::config::{self, Config, Traces};
use crate::results::{Stats, Summary};
use crate::stage_line;
use std::fmt::Write as _;
use std::fs;
use std::time::Duration;

/// Limits against bare in the same run: response p50 in µs (checked at every receiver delay
/// when the flush is after the response), the rest at 0 ms; `None` is no target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    pub response_p50_us: f64,
    pub post_response_p50_us: f64,
    pub cpu_us: f64,
    pub cold_start_ms: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub binary_mb: Option<f64>,
    /// Whether it must also beat lambda_runtime's `OpenTelemetryLayer` of the same run on
    /// response, post-response, CPU, cold start and peak RSS (after-response rows: the peer
    /// too flushes after the response).
    pub ahead_of_peer: bool,
}

/// The targets for lambda-otel exporting traces alone over OTLP, in a traces-only
/// build (`dice-roller --no-default-features`: lambda-otel with `lambda-http` alone).
pub const TRACES_ONLY_BUILD_TARGETS: Targets = Targets {
    response_p50_us: 20.0,
    post_response_p50_us: 50.0,
    cpu_us: 50.0,
    cold_start_ms: Some(0.5),
    peak_rss_mb: Some(1.5),
    binary_mb: Some(1.2),
    ahead_of_peer: true,
};

/// The same for traces alone in the default build, configured by its variables: the binary is
/// the defaults' (held to [`DEFAULTS_TARGETS`]), the rest is held to the traces-only targets.
pub const OTLP_TARGETS: Targets = Targets {
    binary_mb: None,
    ..TRACES_ONLY_BUILD_TARGETS
};

/// The targets with the defaults: traces, metrics (at the default export interval) and logs,
/// all three over OTLP, at a steady invocation rate.
pub const DEFAULTS_TARGETS: Targets = Targets {
    response_p50_us: 25.0,
    post_response_p50_us: 80.0,
    cpu_us: 90.0,
    cold_start_ms: Some(0.5),
    peak_rss_mb: Some(2.0),
    binary_mb: Some(2.5),
    ahead_of_peer: true,
};

/// The AWS-native route's: a datagram per span and a line on stdout instead of an HTTP
/// exchange, so much less work after the response.
pub const AWS_NATIVE_TARGETS: Targets = Targets {
    response_p50_us: 20.0,
    post_response_p50_us: 15.0,
    cpu_us: 30.0,
    cold_start_ms: None,
    peak_rss_mb: None,
    binary_mb: None,
    ahead_of_peer: false,
};

/// The machine, as the README's table reports it.
pub fn machine(cpu: Option<usize>) -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    // Every CPU of the machine, not only those this (pinned) process may use.
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let pinned = cpu.map_or_else(|| "not pinned".to_owned(), |c| format!("pinned to CPU {c}"));
    format!(
        "{model}, {cores} CPUs, {} {}, Linux {}; runner and functions {pinned}",
        std::env::consts::ARCH,
        std::env::consts::OS,
        kernel.trim()
    )
}

/// One Markdown table per receiver delay, values with their difference to bare.
pub fn table(summaries: &[Summary], delay: Duration) -> String {
    let rows: Vec<&Summary> = summaries
        .iter()
        .filter(|s| s.delay == delay && s.config.extension.is_none() && s.config.stages.is_none())
        .collect();
    let Some(bare) = rows.iter().find(|s| s.config.is_bare()).map(|s| s.stats()) else {
        return String::new();
    };
    let mut out = format!(
        "receiver delay {} ms\n\n| configuration | response p50 | response p99 | post-response p50 | CPU / invocation | cold start | peak RSS | binary | spans | freeze-safe |\n|---|---|---|---|---|---|---|---|---|---|\n",
        delay.as_millis()
    );
    for summary in rows {
        let s = summary.stats();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            summary.config.name,
            with_delta(s.response_p50, bare.response_p50, "µs", 0),
            with_delta(s.response_p99, bare.response_p99, "µs", 0),
            with_delta(s.post_response_p50, bare.post_response_p50, "µs", 0),
            with_delta(s.cpu_per_invocation, bare.cpu_per_invocation, "µs", 0),
            with_delta(s.cold_start, bare.cold_start, "ms", 2),
            with_delta(s.peak_rss, bare.peak_rss, "MB", 2),
            with_delta(s.binary, bare.binary, "MB", 2),
            spans(&s),
            freeze_safe(&s),
        );
    }
    out.push_str(&notes(summaries, delay));
    out
}

/// Below a table: what the X-Ray route's counts mean, or why it is not in the table.
fn notes(summaries: &[Summary], delay: Duration) -> String {
    let mut out = String::new();
    let ran = |c: &Config, at: Duration| summaries.iter().any(|s| s.config == *c && s.delay == at);
    for c in config::ALL.iter().filter(|c| c.traces == Traces::Xray) {
        if ran(c, delay) {
            let _ = writeln!(
                out,
                "\n{}: spans are X-Ray segment documents at the loopback UDP daemon; freeze-safe \
                 compares each datagram's kernel arrival time with the next `/next`.",
                c.name
            );
        } else if ran(c, Duration::ZERO) {
            let _ = writeln!(
                out,
                "\n{}: not run at {} ms. UDP is fire-and-forget: nothing waits for the daemon, \
                 so a slow collector changes nothing for it.",
                c.name,
                delay.as_millis()
            );
        }
    }
    out
}

/// What each configuration sent per invocation: OTLP requests and spans, or X-Ray documents;
/// and EMF lines on stdout.
pub fn per_invocation(summaries: &[Summary]) -> String {
    let mut out = String::from(
        "Per invocation: OTLP requests (traces + metrics/logs) and spans, or X-Ray documents; \
         EMF lines on stdout\n\n",
    );
    for s in summaries.iter().filter(|s| s.config.traced()) {
        let invocations: usize = s.runs.iter().map(|r| r.invocations).sum();
        let per = |n: usize| n as f64 / invocations as f64;
        let (traces, other) = s
            .runs
            .iter()
            .fold((0, 0), |(t, o), r| (t + r.requests.0, o + r.requests.1));
        let spans: usize = s.runs.iter().map(|r| r.spans_total).sum();
        let emf: usize = s.runs.iter().map(|r| r.stdout.emf_lines).sum();
        let sent = match s.config.traces {
            Traces::Xray => format!("{:.2} documents", per(spans)),
            Traces::None | Traces::Otlp => format!("{:.2} spans", per(spans)),
        };
        let _ = writeln!(
            out,
            "- {} @ {} ms: {:.2} + {:.2} requests, {sent}, {:.2} EMF lines",
            s.config.name,
            s.delay.as_millis(),
            per(traces),
            per(other),
            per(emf)
        );
    }
    out
}

/// Where the time goes inside the process, stage by stage (`src/bin/stages.rs`): each stage's
/// mean over the measured invocations, against the stage-marked bare function of the same run.
pub fn stages_table(summaries: &[Summary]) -> String {
    let rows: Vec<(&Summary, [f64; 5])> = summaries
        .iter()
        .filter_map(|s| Some((s, s.stage_means()?)))
        .collect();
    let Some(&(_, bare)) = rows
        .iter()
        .find(|(s, _)| s.config.name == config::STAGES_BARE)
    else {
        return String::new();
    };
    let mut out = String::from(
        "Where the time goes inside the process (the stage-marked dice roller, \
         `bench/src/bin/stages.rs`; mean per measured invocation, 0 ms)\n\n\
         | configuration |",
    );
    for stage in stage_line::STAGES {
        let _ = write!(out, " {stage} |");
    }
    out.push_str(" event to response posted | in all |\n|---|");
    out.push_str(&"---|".repeat(stage_line::STAGES.len() + 2));
    out.push('\n');
    let response = |m: &[f64; 5]| m[..4].iter().sum::<f64>();
    let all = |m: &[f64; 5]| m.iter().sum::<f64>();
    for (summary, means) in &rows {
        let _ = write!(out, "| {} |", summary.config.name);
        for (mean, bare) in means.iter().zip(bare) {
            let _ = write!(out, " {} |", with_delta(*mean, bare, "µs", 1));
        }
        let _ = writeln!(
            out,
            " {} | {} |",
            with_delta(response(means), response(&bare), "µs", 1),
            with_delta(all(means), all(&bare), "µs", 1)
        );
    }
    out
}

fn with_delta(value: f64, bare: f64, unit: &str, decimals: usize) -> String {
    let delta = value - bare;
    if delta.abs() < f64::EPSILON {
        return format!("{value:.decimals$} {unit}");
    }
    format!("{value:.decimals$} {unit} ({delta:+.decimals$})")
}

fn spans(s: &Stats) -> String {
    if s.spans_expected == 0 {
        return "-".to_owned();
    }
    format!(
        "{}/{} ({:.1} %)",
        s.spans_received,
        s.spans_expected,
        100.0 * s.spans_received as f64 / s.spans_expected as f64
    )
}

fn freeze_safe(s: &Stats) -> String {
    if s.spans_expected == 0 {
        return "-".to_owned();
    }
    format!(
        "{}/{} ({:.1} %)",
        s.freeze_safe,
        s.invocations,
        100.0 * s.freeze_safe as f64 / s.invocations as f64
    )
}

/// One verdict against a target.
pub struct Verdict {
    /// The configuration and what is measured.
    pub what: String,
    /// Met or not.
    pub met: bool,
    /// Whether it is about correctness (spans or documents, freeze safety, errors, EMF lines):
    /// a miss fails the run.
    pub correctness: bool,
}

/// lambda-otel's configurations against their targets.
pub fn verdicts(summaries: &[Summary]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let bare_at = |delay: Duration| bare(summaries, delay);
    for summary in summaries {
        let (Some(t), Some(bare)) = (summary.config.targets, bare_at(summary.delay)) else {
            continue;
        };
        let s = summary.stats();
        let c = &summary.config;
        let ms = summary.delay.as_millis();
        // The response must not wait for the flush in after-response mode, at either delay;
        // the rest of the targets are for the collector answering at once.
        let at_once = ms == 0;
        let targets = [
            (
                "response p50 µs",
                c.after_response,
                s.response_p50 - bare.response_p50,
                Some(t.response_p50_us),
            ),
            (
                "post-response p50 µs",
                at_once,
                s.post_response_p50 - bare.post_response_p50,
                Some(t.post_response_p50_us),
            ),
            (
                "CPU / invocation µs",
                at_once,
                s.cpu_per_invocation - bare.cpu_per_invocation,
                Some(t.cpu_us),
            ),
            (
                "cold start ms",
                at_once,
                s.cold_start - bare.cold_start,
                t.cold_start_ms,
            ),
            (
                "peak RSS MB",
                at_once,
                s.peak_rss - bare.peak_rss,
                t.peak_rss_mb,
            ),
            ("binary MB", at_once, s.binary - bare.binary, t.binary_mb),
        ];
        out.extend(
            targets
                .into_iter()
                .filter_map(|(what, applies, value, limit)| {
                    Some((what, value, limit.filter(|_| applies)?))
                })
                .map(|(what, value, limit)| Verdict {
                    what: format!(
                        "{} @ {ms} ms: {what} {value:+.2} (target ≤ +{limit})",
                        c.name
                    ),
                    met: value <= limit,
                    correctness: false,
                }),
        );
        let spans = match c.traces {
            Traces::Xray => "X-Ray documents",
            Traces::None | Traces::Otlp => "spans",
        };
        out.push(correct(c, ms, spans, s.spans_received, s.spans_expected));
        out.push(correct(c, ms, "freeze-safe", s.freeze_safe, s.invocations));
        out.push(correct(
            c,
            ms,
            "invocations without error",
            s.invocations - s.errors,
            s.invocations,
        ));
        if t.ahead_of_peer
            && c.after_response
            && at_once
            && let Some(peer) = peer(summaries, summary.delay)
        {
            out.extend(ahead_of_peer(c.name, &s, &peer));
        }
        if [Some(OTLP_TARGETS), Some(TRACES_ONLY_BUILD_TARGETS)].contains(&c.targets) {
            // Held to the targets of traces alone: a metrics or logs request (a build with
            // more than it should have, a variable lost) would make its numbers another row's.
            let other: usize = summary.runs.iter().map(|r| r.requests.1).sum();
            out.push(Verdict {
                what: format!(
                    "{} @ {ms} ms: metrics and logs requests {other} (traces alone: 0)",
                    c.name
                ),
                met: other == 0,
                correctness: true,
            });
        }
        if c.emf {
            // At least one per invocation: each flush writes what the invocation recorded.
            out.push(Verdict {
                what: format!(
                    "{} @ {ms} ms: EMF lines {} for {} invocations (at least one each)",
                    c.name, s.emf_lines, s.invocations
                ),
                met: s.emf_lines >= s.invocations,
                correctness: true,
            });
        }
    }
    out
}

fn correct(c: &Config, ms: u128, what: &str, got: usize, expected: usize) -> Verdict {
    Verdict {
        what: format!("{} @ {ms} ms: {what} {got}/{expected}", c.name),
        met: got == expected,
        correctness: true,
    }
}

/// lambda_runtime's own layer, the peer lambda-otel is measured against.
pub const PEER: &str = "lambda_runtime OpenTelemetryLayer";

fn peer(summaries: &[Summary], delay: Duration) -> Option<Stats> {
    summaries
        .iter()
        .find(|s| s.delay == delay && s.config.name == PEER)
        .map(Summary::stats)
}

/// lambda-otel's row against the peer's, column by column: lower is ahead.
fn ahead_of_peer(name: &str, s: &Stats, peer: &Stats) -> Vec<Verdict> {
    [
        ("response p50 µs", s.response_p50, peer.response_p50),
        (
            "post-response p50 µs",
            s.post_response_p50,
            peer.post_response_p50,
        ),
        (
            "CPU / invocation µs",
            s.cpu_per_invocation,
            peer.cpu_per_invocation,
        ),
        ("cold start ms", s.cold_start, peer.cold_start),
        ("peak RSS MB", s.peak_rss, peer.peak_rss),
    ]
    .into_iter()
    .map(|(what, ours, theirs)| Verdict {
        what: format!(
            "{name} @ 0 ms: {what} {ours:.2} against {PEER}'s {theirs:.2} (target: ahead)"
        ),
        met: ours < theirs,
        correctness: false,
    })
    .collect()
}

/// Bare's numbers at `delay`, if it ran.
fn bare(summaries: &[Summary], delay: Duration) -> Option<Stats> {
    summaries
        .iter()
        .find(|s| s.delay == delay && s.config.is_bare())
        .map(Summary::stats)
}
