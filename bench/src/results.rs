//! What a run measured, and the statistics over a configuration's runs.

use crate::config::Config;
use crate::extension::ExtensionRun;
use crate::function::Stdout;
use crate::runtime_api::Deliveries;
use std::time::Duration;

/// One process, from spawn to its last `/next`.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Spawn → first `/next`.
    pub cold_start: Duration,
    /// Event handed out → response posted, per measured invocation.
    pub response: Vec<Duration>,
    /// Response posted → the runtime's next `/next`, per measured invocation.
    pub post_response: Vec<Duration>,
    /// Response posted → the freeze point (the runtime and the extension both in `/next`): the
    /// billed part after the response. The same as `post_response` without an extension.
    pub billed_post_response: Vec<Duration>,
    /// CPU time of the measured invocations, all threads of the function.
    pub cpu: Duration,
    /// Invocations measured (after the warm-up).
    pub measured: usize,
    /// Peak RSS, bytes.
    pub peak_rss: u64,
    /// Invocations in all, warm-up included.
    pub invocations: usize,
    /// Expected spans (the invocation span and `roll`, per invocation) that arrived, as OTLP
    /// spans or X-Ray segment documents.
    pub spans_received: usize,
    /// Invocations whose spans were all at the receiver before the next `/next`.
    pub freeze_safe: usize,
    /// Errors posted instead of responses.
    pub errors: usize,
    /// Every span the receiver decoded, or every document the X-Ray daemon got.
    pub spans_total: usize,
    /// OTLP requests: traces, then metrics and logs.
    pub requests: (usize, usize),
    /// What the function wrote on stdout.
    pub stdout: Stdout,
    /// What the extension did, when one ran.
    pub extension: Option<ExtensionRun>,
    /// What the Telemetry API delivered to it.
    pub deliveries: Deliveries,
    /// The stage-marked binary's measured invocations and each stage's total, nanoseconds
    /// (`shared/stage_line.rs`).
    pub stages: Option<(u64, [u64; 5])>,
}

/// A configuration's runs at one receiver delay.
#[derive(Debug, Clone)]
pub struct Summary {
    /// What ran.
    pub config: Config,
    /// The receiver's answer delay.
    pub delay: Duration,
    /// The stripped binary's size, bytes.
    pub binary: u64,
    /// The extension's, when one runs.
    pub extension_binary: Option<u64>,
    /// Every run, in order.
    pub runs: Vec<RunResult>,
    /// Spawn → first `/next` of the processes started for their cold start alone; when there
    /// are some, the cold start reported is their median, else the runs'.
    pub cold_starts: Vec<Duration>,
}

/// The numbers in one row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub response_p50: f64,
    pub response_p99: f64,
    pub post_response_p50: f64,
    pub cpu_per_invocation: f64,
    pub cold_start: f64,
    pub peak_rss: f64,
    pub binary: f64,
    pub spans_received: usize,
    pub spans_expected: usize,
    pub freeze_safe: usize,
    pub invocations: usize,
    pub errors: usize,
    pub emf_lines: usize,
    pub billed_post_response_p50: f64,
    pub billed_post_response_p99: f64,
    /// Measured invocations whose billed post-response reached the Telemetry API's 25 ms.
    pub waited_for_platform: usize,
    pub measured: usize,
    pub extension: Option<ExtensionStats>,
}

/// The extension's numbers over a configuration's runs. Times in µs or ms, sizes in MB.
#[derive(Debug, Clone, Copy)]
pub struct ExtensionStats {
    pub cpu_per_invocation: f64,
    /// Median run's peak RSS, and the largest.
    pub peak_rss: f64,
    pub peak_rss_max: f64,
    /// Spawn → registration, ms: the median run's and the slowest.
    pub registration: f64,
    pub registration_max: f64,
    /// Its own start → ready, µs, median run.
    pub ready_us: Option<u64>,
    /// `SHUTDOWN` → exit, ms, the slowest run (`None` if one did not exit).
    pub shutdown_max: Option<f64>,
    pub clean_exits: usize,
    pub runs: usize,
    pub deadline_fallbacks: usize,
    pub forward_failures: usize,
    pub binary: f64,
    /// Telemetry API deliveries per invocation, and failed deliveries.
    pub deliveries_per_invocation: f64,
    pub failed_deliveries: usize,
}

/// Threshold for [`Stats::waited_for_platform`]: Lambda's smallest Telemetry API buffering.
pub const PLATFORM_WAIT: Duration = Duration::from_millis(25);

impl Summary {
    /// Each stage's mean over the measured invocations of every run, µs; `None` for a
    /// configuration without stage marks.
    pub fn stage_means(&self) -> Option<[f64; 5]> {
        let mut measured = 0;
        let mut totals = [0u64; 5];
        for stages in self.runs.iter().map(|r| r.stages) {
            let (n, run) = stages?;
            measured += n;
            for (total, stage) in totals.iter_mut().zip(run) {
                *total = total.saturating_add(stage);
            }
        }
        (measured > 0).then(|| totals.map(|t| t as f64 / measured as f64 / 1e3))
    }

    /// Pools the runs: percentiles over every measured invocation, CPU over the total, cold
    /// start and RSS as the median run. Times in µs, sizes in MB (10⁶ bytes).
    pub fn stats(&self) -> Stats {
        let pooled = |pick: fn(&RunResult) -> &Vec<Duration>| {
            let mut all: Vec<Duration> = self.runs.iter().flat_map(|r| pick(r).clone()).collect();
            all.sort_unstable();
            all
        };
        let response = pooled(|r| &r.response);
        let post = pooled(|r| &r.post_response);
        let billed = pooled(|r| &r.billed_post_response);
        let measured: usize = self.runs.iter().map(|r| r.measured).sum();
        let cpu: Duration = self.runs.iter().map(|r| r.cpu).sum();
        let mut cold: Vec<Duration> = if self.cold_starts.is_empty() {
            self.runs.iter().map(|r| r.cold_start).collect()
        } else {
            self.cold_starts.clone()
        };
        cold.sort_unstable();
        let mut rss: Vec<u64> = self.runs.iter().map(|r| r.peak_rss).collect();
        rss.sort_unstable();
        let invocations = self.runs.iter().map(|r| r.invocations).sum();
        Stats {
            response_p50: micros(percentile(&response, 50)),
            response_p99: micros(percentile(&response, 99)),
            post_response_p50: micros(percentile(&post, 50)),
            cpu_per_invocation: if measured == 0 {
                f64::NAN
            } else {
                micros(cpu) / measured as f64
            },
            cold_start: micros(percentile(&cold, 50)) / 1000.0,
            peak_rss: percentile(&rss, 50) as f64 / 1e6,
            binary: self.binary as f64 / 1e6,
            spans_received: self.runs.iter().map(|r| r.spans_received).sum(),
            spans_expected: if self.config.traced() {
                2 * invocations
            } else {
                0
            },
            freeze_safe: self.runs.iter().map(|r| r.freeze_safe).sum(),
            invocations,
            errors: self.runs.iter().map(|r| r.errors).sum(),
            emf_lines: self.runs.iter().map(|r| r.stdout.emf_lines).sum(),
            billed_post_response_p50: micros(percentile(&billed, 50)),
            billed_post_response_p99: micros(percentile(&billed, 99)),
            waited_for_platform: billed.iter().filter(|&&d| d >= PLATFORM_WAIT).count(),
            measured,
            extension: self.extension_stats(measured, invocations),
        }
    }

    fn extension_stats(&self, measured: usize, invocations: usize) -> Option<ExtensionStats> {
        let runs: Vec<&ExtensionRun> = self
            .runs
            .iter()
            .filter_map(|r| r.extension.as_ref())
            .collect();
        if runs.is_empty() {
            return None;
        }
        let sorted = |pick: fn(&ExtensionRun) -> u64| {
            let mut values: Vec<u64> = runs.iter().map(|r| pick(r)).collect();
            values.sort_unstable();
            values
        };
        let rss = sorted(|r| r.peak_rss);
        let registration =
            sorted(|r| u64::try_from(r.registration.as_micros()).unwrap_or(u64::MAX));
        let ready = sorted(|r| r.ready_us.unwrap_or(0));
        let cpu: Duration = runs.iter().map(|r| r.cpu).sum();
        let shutdown: Option<Vec<Duration>> = runs.iter().map(|r| r.shutdown_to_exit).collect();
        let deliveries: usize = self.runs.iter().map(|r| r.deliveries.delivered).sum();
        Some(ExtensionStats {
            cpu_per_invocation: if measured == 0 {
                f64::NAN
            } else {
                micros(cpu) / measured as f64
            },
            peak_rss: percentile(&rss, 50) as f64 / 1e6,
            peak_rss_max: rss.last().copied().unwrap_or(0) as f64 / 1e6,
            registration: percentile(&registration, 50) as f64 / 1e3,
            registration_max: registration.last().copied().unwrap_or(0) as f64 / 1e3,
            ready_us: runs
                .iter()
                .all(|r| r.ready_us.is_some())
                .then(|| percentile(&ready, 50)),
            shutdown_max: shutdown
                .and_then(|d| d.into_iter().max())
                .map(|d| micros(d) / 1e3),
            clean_exits: runs.iter().filter(|r| r.exited_cleanly()).count(),
            runs: runs.len(),
            deadline_fallbacks: runs.iter().map(|r| r.deadline_fallbacks).sum(),
            forward_failures: runs.iter().map(|r| r.forward_failures).sum(),
            binary: self.extension_binary.unwrap_or(0) as f64 / 1e6,
            deliveries_per_invocation: deliveries as f64 / invocations.max(1) as f64,
            failed_deliveries: self.runs.iter().map(|r| r.deliveries.failed).sum(),
        })
    }
}

/// Nearest-rank percentile of sorted values; the default for none.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: usize) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), 50);
        assert_eq!(percentile(&values, 99), 99);
        assert_eq!(percentile(&[7u32], 99), 7);
        assert_eq!(percentile(&[1u32, 2, 3], 50), 2);
        assert_eq!(percentile::<u32>(&[], 50), 0);
    }
}
