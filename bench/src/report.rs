//! The table, the targets, and the machine it ran on.

use crate::config::Config;
use crate::results::{Stats, Summary};
use std::fmt::Write as _;
use std::fs;
use std::time::Duration;

/// The targets against bare, at 0 ms receiver delay (µs, ms, MB).
const RESPONSE_P50_US: f64 = 20.0;
const POST_RESPONSE_P50_US: f64 = 50.0;
const CPU_US: f64 = 50.0;
const COLD_START_MS: f64 = 0.5;
const PEAK_RSS_MB: f64 = 1.5;
const BINARY_MB: f64 = 1.2;

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
    let rows: Vec<&Summary> = summaries.iter().filter(|s| s.delay == delay).collect();
    let Some(bare) = rows.iter().find(|s| !s.config.traced).map(|s| s.stats()) else {
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
    /// Whether it is about correctness (spans, freeze safety, errors): a miss fails the run.
    pub correctness: bool,
}

/// lambda-otel's configurations against the targets.
pub fn verdicts(summaries: &[Summary]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let bare_at = |delay: Duration| {
        summaries
            .iter()
            .find(|s| s.delay == delay && !s.config.traced)
            .map(Summary::stats)
    };
    for summary in summaries.iter().filter(|s| s.config.ours) {
        let Some(bare) = bare_at(summary.delay) else {
            continue;
        };
        let s = summary.stats();
        let c = &summary.config;
        let ms = summary.delay.as_millis();
        // The response must not wait for the flush in after-response mode, at either delay;
        // the rest of the targets are for the collector answering at once.
        let mut targets = Vec::new();
        if c.after_response {
            targets.push((
                "response p50 µs",
                s.response_p50 - bare.response_p50,
                RESPONSE_P50_US,
            ));
        }
        if ms == 0 {
            targets.extend([
                (
                    "post-response p50 µs",
                    s.post_response_p50 - bare.post_response_p50,
                    POST_RESPONSE_P50_US,
                ),
                (
                    "CPU / invocation µs",
                    s.cpu_per_invocation - bare.cpu_per_invocation,
                    CPU_US,
                ),
                (
                    "cold start ms",
                    s.cold_start - bare.cold_start,
                    COLD_START_MS,
                ),
                ("peak RSS MB", s.peak_rss - bare.peak_rss, PEAK_RSS_MB),
                ("binary MB", s.binary - bare.binary, BINARY_MB),
            ]);
        }
        out.extend(targets.into_iter().map(|(what, value, limit)| Verdict {
            what: format!(
                "{} @ {ms} ms: {what} {value:+.2} (target ≤ +{limit})",
                c.name
            ),
            met: value <= limit,
            correctness: false,
        }));
        out.push(correct(c, ms, "spans", s.spans_received, s.spans_expected));
        out.push(correct(c, ms, "freeze-safe", s.freeze_safe, s.invocations));
        out.push(correct(
            c,
            ms,
            "invocations without error",
            s.invocations - s.errors,
            s.invocations,
        ));
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
