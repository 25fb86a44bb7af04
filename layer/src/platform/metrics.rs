//! The platform's metrics between two forwards: delta histograms and sums aggregated in
//! memory from each `platform.report` and failed invocation, read as OTLP/JSON metrics when the
//! forwarding takes the window.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::otlp::{attr_str, histogram, nanos, sum};

/// `faas.mem_usage` buckets, in bytes: Lambda's memory sizes from 128 MB to 10 GB.
const MEMORY_BOUNDARIES_MB: [f64; 8] =
    [128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 10240.0];
/// Duration buckets in seconds, as lambda-otel's `faas.invoke_duration`.
const DURATION_BOUNDARIES: [f64; 20] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    30.0, 60.0, 300.0, 900.0,
];

/// One histogram's delta over a window.
#[derive(Debug, Clone)]
pub(super) struct Hist {
    pub(super) bounds: Vec<f64>,
    pub(super) counts: Vec<u64>,
    pub(super) count: u64,
    pub(super) sum: f64,
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Hist {
    fn new(bounds: &[f64]) -> Self {
        Self {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    pub(super) fn record(&mut self, value: f64) {
        // A bucket holds the values up to and including its upper bound, as OTLP defines.
        let bucket = self.bounds.iter().take_while(|b| value > **b).count();
        self.counts[bucket] += 1;
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

/// The platform's metrics, aggregated between two forwards: one data point per series and
/// window, not one export per invocation (each report would otherwise cost the extension an
/// OTLP request of its own).
#[derive(Debug, Clone)]
pub(super) struct Window {
    start: DateTime<Utc>,
    pub(super) billed: Hist,
    pub(super) memory: Hist,
    pub(super) init: Hist,
    pub(super) timeouts: u64,
    /// `faas.errors` by `error.type`.
    errors: Vec<(&'static str, u64)>,
}

impl Window {
    pub(super) fn new(start: DateTime<Utc>) -> Self {
        let bytes: Vec<f64> = MEMORY_BOUNDARIES_MB
            .iter()
            .map(|mb| mb * 1024.0 * 1024.0)
            .collect();
        Self {
            start,
            billed: Hist::new(&DURATION_BOUNDARIES),
            memory: Hist::new(&bytes),
            init: Hist::new(&DURATION_BOUNDARIES),
            timeouts: 0,
            errors: Vec::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.billed.count == 0
            && self.init.count == 0
            && self.timeouts == 0
            && self.errors.is_empty()
    }

    pub(super) fn error(&mut self, kind: &'static str) {
        match self.errors.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((kind, 1)),
        }
    }

    /// The window's metrics, ending at `end`.
    pub(super) fn metrics(&self, end: DateTime<Utc>) -> Vec<Value> {
        let (start, end) = (nanos(self.start).to_string(), nanos(end).to_string());
        let mut metrics = Vec::new();
        let mut histogram = |name: &str, unit: &str, description: &str, h: &Hist| {
            if h.count > 0 {
                metrics.push(histogram(name, unit, description, h, &start, &end));
            }
        };
        histogram(
            "aws.lambda.billed_duration",
            "s",
            "Billed duration of the invocations, as Lambda reports it",
            &self.billed,
        );
        histogram(
            "faas.mem_usage",
            "By",
            "Maximum memory used by each invocation, as Lambda reports it",
            &self.memory,
        );
        histogram(
            "faas.init_duration",
            "s",
            "The init phase of a cold start, as Lambda reports it",
            &self.init,
        );
        if self.timeouts > 0 {
            metrics.push(sum(
                "faas.timeouts",
                "{timeout}",
                "Invocations that ran past their timeout",
                &[(Vec::new(), self.timeouts)],
                &start,
                &end,
            ));
        }
        if !self.errors.is_empty() {
            let points: Vec<(Vec<Value>, u64)> = self
                .errors
                .iter()
                .map(|(kind, n)| (vec![attr_str("error.type", kind)], *n))
                .collect();
            metrics.push(sum(
                "faas.errors",
                "{error}",
                "Invocations that ended in a timeout, a crash or an error without the \
                 function's own telemetry",
                &points,
                &start,
                &end,
            ));
        }
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_put_a_value_in_the_bucket_bounded_above_by_it() {
        let mut h = Hist::new(&[0.001, 0.0025, 0.005]);
        for value in [0.003, 9.0, 0.0025] {
            h.record(value);
        }
        assert_eq!(h.counts, [0, 1, 1, 1]);
    }
}
