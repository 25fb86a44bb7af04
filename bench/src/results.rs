//! What a run measured, and the statistics over a configuration's runs.

use crate::config::Config;
use crate::function::Stdout;
use std::time::Duration;

/// One process, from spawn to its last `/next`.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Spawn → first `/next`.
    pub cold_start: Duration,
    /// Event handed out → response posted, per measured invocation.
    pub response: Vec<Duration>,
    /// Response posted → next `/next`, per measured invocation.
    pub post_response: Vec<Duration>,
    /// CPU time of the measured invocations, all threads.
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
    /// Every run, in order.
    pub runs: Vec<RunResult>,
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
}

impl Summary {
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
        let measured: usize = self.runs.iter().map(|r| r.measured).sum();
        let cpu: Duration = self.runs.iter().map(|r| r.cpu).sum();
        let mut cold: Vec<Duration> = self.runs.iter().map(|r| r.cold_start).collect();
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
        }
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
