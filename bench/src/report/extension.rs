//! The extension's table and targets: its configurations beside bare and the function alone.

use super::{Verdict, bare, correct, freeze_safe, spans, with_delta};
use crate::config;
use crate::extension::SHUTDOWN_BUDGET;
use crate::results::{ExtensionStats, PLATFORM_WAIT, Stats, Summary};
use std::fmt::Write as _;
use std::time::Duration;

/// The extension's targets (issues): against bare in the same run, the function's own times
/// with the extension beside it (every delay); the billed time against the function alone
/// exporting straight to the collector (0 ms); the extension's own footprint (0 ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtensionTargets {
    pub response_p50_us: f64,
    pub function_post_response_p50_us: f64,
    pub billed_over_function_alone_us: f64,
    pub peak_rss_mb: f64,
    pub registration_ms: f64,
}

/// The issues' numbers for the extension.
pub const EXTENSION_TARGETS: ExtensionTargets = ExtensionTargets {
    response_p50_us: 20.0,
    function_post_response_p50_us: 30.0,
    billed_over_function_alone_us: 1000.0,
    peak_rss_mb: 6.0,
    registration_ms: 5.0,
};

/// The function alone (lambda-otel straight to the collector) at `delay`, if it ran.
fn function_alone(summaries: &[Summary], delay: Duration) -> Option<Stats> {
    summaries
        .iter()
        .find(|s| s.delay == delay && s.config == config::AFTER_RESPONSE)
        .map(Summary::stats)
}

/// The extension's table at `delay`: bare and the function alone for reference, then every
/// configuration with the extension. Post-response is the function's (its response to its own
/// `/next`); billed post-response ends at the freeze point, when the extension is in `/next`
/// too. Nothing when no configuration with the extension ran at `delay`.
pub fn extension_table(summaries: &[Summary], delay: Duration) -> String {
    let with: Vec<&Summary> = summaries
        .iter()
        .filter(|s| s.delay == delay && s.config.extension.is_some())
        .collect();
    let Some(bare) = bare(summaries, delay).filter(|_| !with.is_empty()) else {
        return String::new();
    };
    let mut out = format!(
        "With the lambda-otel extension, receiver delay {} ms\n\n| configuration | response p50 | \
         response p99 | post-response p50 (function) | billed post-response p50 | billed p99 | \
         billed ≥ {} ms | CPU / invocation (function + extension) | extension CPU / invocation | \
         extension peak RSS | start → registration | spans | freeze-safe |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        delay.as_millis(),
        PLATFORM_WAIT.as_millis()
    );
    let references = summaries
        .iter()
        .filter(|s| s.delay == delay && (s.config.is_bare() || s.config == config::AFTER_RESPONSE));
    for summary in references.chain(with.iter().copied()) {
        let s = summary.stats();
        let ext = s.extension;
        let cpu = s.cpu_per_invocation + ext.map_or(0.0, |e| e.cpu_per_invocation);
        let dash = || "-".to_owned();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} |",
            summary.config.name,
            with_delta(s.response_p50, bare.response_p50, "µs", 0),
            with_delta(s.response_p99, bare.response_p99, "µs", 0),
            with_delta(s.post_response_p50, bare.post_response_p50, "µs", 0),
            with_delta(
                s.billed_post_response_p50,
                bare.billed_post_response_p50,
                "µs",
                0
            ),
            with_delta(
                s.billed_post_response_p99,
                bare.billed_post_response_p99,
                "µs",
                0
            ),
            s.waited_for_platform,
            s.measured,
            with_delta(cpu, bare.cpu_per_invocation, "µs", 0),
            ext.map_or_else(dash, |e| format!("{:.0} µs", e.cpu_per_invocation)),
            ext.map_or_else(dash, |e| format!("{:.2} MB", e.peak_rss)),
            ext.map_or_else(dash, |e| {
                format!("{:.2} ms (max {:.2})", e.registration, e.registration_max)
            }),
            spans(&s),
            freeze_safe(&s),
        );
    }
    out.push_str(
        "\nPost-response (function): response posted → the runtime's next `/next`. Billed: \
         response posted → the freeze point, when the runtime and the extension are both in \
         `/next` (the next invocation is handed out only then). CPU: the function's and the \
         extension's processes. Freeze-safe: the invocation's spans at the receiver at that \
         freeze point (deferred mode forwards them during the next invocation, by design).\n",
    );
    for summary in with {
        let stats = summary.stats();
        if let Some(ext) = stats.extension {
            out.push('\n');
            out.push_str(&extension_notes(summary, &stats, &ext));
        }
    }
    out
}

/// Below the extension's table: its binary, its own start-up count, SHUTDOWN, what it logged.
fn extension_notes(summary: &Summary, s: &Stats, e: &ExtensionStats) -> String {
    let shutdown = e.shutdown_max.map_or_else(
        || "did not exit in every run".to_owned(),
        |ms| format!("SHUTDOWN → exit at most {ms:.1} ms"),
    );
    let ready = e
        .ready_us
        .map_or_else(String::new, |us| format!(", ready (its own count) {us} µs"));
    let mut out = format!(
        "- {} @ {} ms: {} measured invocations in {} processes; binary {:.2} MB{ready}; peak \
         RSS up to {:.2} MB; {shutdown}, {}/{} clean exits; {} invocations ended at their \
         deadline, {} failed forwards; {:.2} Telemetry API deliveries per invocation ({} \
         failed)\n",
        summary.config.name,
        summary.delay.as_millis(),
        s.measured,
        e.runs,
        e.binary,
        e.peak_rss_max,
        e.clean_exits,
        e.runs,
        e.deadline_fallbacks,
        e.forward_failures,
        e.deliveries_per_invocation,
        e.failed_deliveries,
    );
    if let Some(line) = summary
        .runs
        .last()
        .and_then(|r| r.extension.as_ref())
        .and_then(|x| x.shutdown_line.as_deref())
    {
        let _ = writeln!(out, "  last run: `{line}`");
    }
    out
}

/// The configurations with the extension against their targets, and their correctness.
pub fn extension_verdicts(summaries: &[Summary]) -> Vec<Verdict> {
    let t = EXTENSION_TARGETS;
    let mut out = Vec::new();
    for summary in summaries {
        let (Some(with), Some(bare)) = (summary.config.extension, bare(summaries, summary.delay))
        else {
            continue;
        };
        let s = summary.stats();
        let c = &summary.config;
        let ms = summary.delay.as_millis();
        let at_once = ms == 0;
        let mut target = |what: String, value: f64, limit: f64| {
            out.push(Verdict {
                what: format!("{} @ {ms} ms: {what} (target ≤ {limit})", c.name),
                met: value <= limit,
                correctness: false,
            });
        };
        if with.marks {
            target(
                format!(
                    "response p50 µs over bare {:+.2}",
                    s.response_p50 - bare.response_p50
                ),
                s.response_p50 - bare.response_p50,
                t.response_p50_us,
            );
            target(
                format!(
                    "function's post-response p50 µs over bare {:+.2}",
                    s.post_response_p50 - bare.post_response_p50
                ),
                s.post_response_p50 - bare.post_response_p50,
                t.function_post_response_p50_us,
            );
            if at_once && let Some(alone) = function_alone(summaries, summary.delay) {
                let over = s.billed_post_response_p50 - alone.post_response_p50;
                target(
                    format!(
                        "billed post-response p50 µs over {} {over:+.2}",
                        config::AFTER_RESPONSE.name
                    ),
                    over,
                    t.billed_over_function_alone_us,
                );
            }
            if let (true, Some(e)) = (at_once, s.extension) {
                target(
                    format!("extension peak RSS MB {:.2}", e.peak_rss),
                    e.peak_rss,
                    t.peak_rss_mb,
                );
                target(
                    format!("extension start → registration ms {:.2}", e.registration),
                    e.registration,
                    t.registration_ms,
                );
            }
        }
        if c.traced() {
            out.push(correct(c, ms, "spans", s.spans_received, s.spans_expected));
        }
        if with.freeze_safe {
            out.push(correct(
                c,
                ms,
                "spans at the receiver before the freeze",
                s.freeze_safe,
                s.invocations,
            ));
        }
        out.push(correct(
            c,
            ms,
            "invocations without error",
            s.invocations - s.errors,
            s.invocations,
        ));
        let (clean, runs) = s.extension.map_or((0, 1), |e| (e.clean_exits, e.runs));
        out.push(correct(
            c,
            ms,
            &format!(
                "extension exited with success within {} s of SHUTDOWN, runs",
                SHUTDOWN_BUDGET.as_secs()
            ),
            clean,
            runs,
        ));
    }
    out
}
