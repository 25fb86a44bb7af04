//! Histograms as EMF value arrays.
//!
//! The specification lets a metric be a number or an array of at most 100 numbers, each one a
//! sample to CloudWatch. A histogram point only keeps its count, sum, min, max and bucket
//! counts, so this module makes up `count` values that have all of them: the first is the
//! min, the last the max, each lies in its bucket (spread evenly across it, the usual linear
//! interpolation), and the ones in between are then moved within their buckets, each in
//! proportion to its room, until the values add up to the sum. CloudWatch's SampleCount, Sum,
//! Minimum, Maximum and Average are then exactly the histogram's, and its percentiles are
//! right to the width of a bucket.
//!
//! Statistic sets (`{"Max","Min","Count","Sum"}`) or `Values`/`Counts` objects would say the
//! same in fewer bytes, and CloudWatch accepts them in practice (the collector's `awsemf`
//! exporter and `aws-embedded-metrics-java` write them), but the specification defines
//! neither: a metric target MUST be a number or an array of numbers. And CloudWatch computes
//! no percentile from a statistic set (only when its count is 1 or its min equals its max).

use std::ops::Range;

/// The most values written for one histogram point. Past it, [`MAX_SAMPLES`] values stand for
/// evenly spaced ranks of the recorded ones: Minimum, Maximum, Average and percentiles stay
/// right, SampleCount and Sum are those of the stand-ins. 100 lines of 100 values at most,
/// which a point only reaches with more than 10,000 recordings in one invocation.
pub(super) const MAX_SAMPLES: usize = 10_000;
/// CloudWatch refuses values beyond ±2^360.
pub(super) const LIMIT: f64 = 2.348_542_582_773_833e108;

/// `count` recorded values, all within `[lower, upper]` (infinite for the open-ended buckets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
}

/// The recorded values' summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Summary {
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The buckets of an explicit-bucket histogram point: `counts` has one more entry than
/// `bounds`, the first bucket is everything up to the first bound, the last everything above
/// the last one. Empty buckets are left out.
pub(super) fn explicit_buckets(
    bounds: impl Iterator<Item = f64>,
    counts: impl Iterator<Item = u64>,
    out: &mut Vec<Bucket>,
) {
    let mut lower = f64::NEG_INFINITY;
    let mut bounds = bounds.chain(std::iter::once(f64::INFINITY));
    for count in counts {
        let upper = bounds.next().unwrap_or(f64::INFINITY);
        if count > 0 {
            out.push(Bucket {
                lower,
                upper,
                count,
            });
        }
        lower = upper;
    }
}

/// The buckets of an exponential histogram point, ascending: negative buckets from the
/// largest magnitude down, the zero bucket, then the positive ones. Bucket `i` of a side holds
/// magnitudes in `(base^i, base^(i+1)]`, `base = 2^(2^-scale)`; each side is given as its
/// first bucket's index and the counts from there.
pub(super) fn exponential_buckets(
    scale: i8,
    zero: (u64, f64),
    positive: (i32, impl Iterator<Item = u64>),
    negative: (i32, impl Iterator<Item = u64>),
    out: &mut Vec<Bucket>,
) {
    let step = (-f64::from(scale)).exp2();
    let boundary = |index: i32| (f64::from(index) * step).exp2();
    let start = out.len();
    let (mut index, counts) = negative;
    for count in counts {
        let next = index.saturating_add(1);
        if count > 0 {
            out.push(Bucket {
                lower: -boundary(next),
                upper: -boundary(index),
                count,
            });
        }
        index = next;
    }
    out[start..].reverse();
    let (zero_count, threshold) = zero;
    if zero_count > 0 {
        out.push(Bucket {
            lower: -threshold,
            upper: threshold,
            count: zero_count,
        });
    }
    let (mut index, counts) = positive;
    for count in counts {
        let next = index.saturating_add(1);
        if count > 0 {
            out.push(Bucket {
                lower: boundary(index),
                upper: boundary(next),
                count,
            });
        }
        index = next;
    }
}

/// Appends the stand-ins of the recorded values to `out`, ascending, and returns where they
/// are; `None` (and nothing appended) when there is nothing CloudWatch would take: no
/// recording, or a sum, min or max that is not a finite number within ±2^360.
pub(super) fn samples(
    buckets: &mut [Bucket],
    summary: Summary,
    out: &mut Vec<f64>,
) -> Option<Range<usize>> {
    let Summary { sum, min, max } = summary;
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    let in_range = |v: f64| v.is_finite() && v.abs() <= LIMIT;
    if total == 0 || !in_range(sum) || !min.is_none_or(in_range) || !max.is_none_or(in_range) {
        return None;
    }
    let mean = sum / total as f64;
    for bucket in buckets.iter_mut() {
        close(bucket, min, max, mean);
    }
    let written = usize::try_from(total).map_or(MAX_SAMPLES, |n| n.min(MAX_SAMPLES));
    // Past the cap the stand-ins keep the average rather than the sum.
    let target = if written as u64 == total {
        sum
    } else {
        mean * written as f64
    };
    let ranks = Ranks {
        total,
        written,
        pinned_first: min.is_some(),
        pinned_last: max.is_some(),
    };

    // First pass: the evenly spread values, and how far they can move up or down.
    let (mut spread, mut up, mut down) = (0.0, 0.0, 0.0);
    ranks.for_each(buckets, |value| {
        spread += value.at;
        up += value.upper - value.at;
        down += value.at - value.lower;
    });
    let missing = target - spread;
    let shift = |value: Placed| {
        if missing > 0.0 && up > 0.0 {
            value.at + (missing / up).min(1.0) * (value.upper - value.at)
        } else if missing < 0.0 && down > 0.0 {
            value.at - (-missing / down).min(1.0) * (value.at - value.lower)
        } else {
            value.at
        }
    };
    let start = out.len();
    ranks.for_each(buckets, |value| out.push(shift(value)));
    if out[start..].iter().all(|&v| in_range(v)) {
        Some(start..out.len())
    } else {
        out.truncate(start);
        None
    }
}

/// Closes a bucket's range to where its values can be: within the min and max when they are
/// known, else at its finite bound (or at the mean, for a histogram without bounds).
fn close(bucket: &mut Bucket, min: Option<f64>, max: Option<f64>, mean: f64) {
    if let Some(min) = min {
        bucket.lower = bucket.lower.max(min);
    }
    if let Some(max) = max {
        bucket.upper = bucket.upper.min(max);
    }
    if bucket.lower == f64::NEG_INFINITY {
        bucket.lower = if bucket.upper.is_finite() {
            bucket.upper
        } else {
            mean
        };
    }
    if bucket.upper == f64::INFINITY {
        bucket.upper = bucket.lower;
    }
    // Min and max that contradict the bounds (a float rounded across one): trust the bounds'
    // lower end rather than write a value outside its bucket.
    if bucket.upper.is_nan() || bucket.upper < bucket.lower {
        bucket.upper = bucket.lower;
    }
}

/// One stand-in value and the range of its bucket (a single point for the pinned min and max).
#[derive(Clone, Copy)]
struct Placed {
    at: f64,
    lower: f64,
    upper: f64,
}

/// Which ranks of the `total` recorded values get a stand-in.
struct Ranks {
    total: u64,
    written: usize,
    /// The first value is the min: it does not move.
    pinned_first: bool,
    /// The last value is the max: it does not move.
    pinned_last: bool,
}

impl Ranks {
    /// The rank of stand-in `k`: all of them when they fit, else evenly spaced ranks that
    /// still include the first and the last.
    fn rank(&self, k: usize) -> u64 {
        let (k, written) = (k as u128, self.written as u128);
        if k + 1 == written && k > 0 {
            return self.total - 1;
        }
        // Exact in integers: the middle of the k-th of `written` equal slices of the ranks.
        let rank = (2 * k + 1) * u128::from(self.total) / (2 * written);
        if k == 0 {
            0
        } else {
            u64::try_from(rank).unwrap_or(self.total - 1)
        }
    }

    /// Calls `f` with each stand-in, ascending.
    fn for_each(&self, buckets: &[Bucket], mut f: impl FnMut(Placed)) {
        let mut buckets = buckets.iter();
        let mut current = buckets.next();
        let mut before = 0_u64;
        for k in 0..self.written {
            let rank = self.rank(k);
            while let Some(bucket) = current {
                if rank < before + bucket.count {
                    break;
                }
                before += bucket.count;
                current = buckets.next();
            }
            let Some(bucket) = current else { return };
            let placed = if rank == 0 && self.pinned_first {
                point(bucket.lower)
            } else if rank == self.total - 1 && self.pinned_last {
                point(bucket.upper)
            } else {
                let position = ((rank - before) as f64 + 0.5) / bucket.count as f64;
                Placed {
                    at: bucket.lower + position * (bucket.upper - bucket.lower),
                    lower: bucket.lower,
                    upper: bucket.upper,
                }
            };
            f(placed);
        }
    }
}

fn point(at: f64) -> Placed {
    Placed {
        at,
        lower: at,
        upper: at,
    }
}

#[cfg(test)]
mod tests;
