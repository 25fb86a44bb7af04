use proptest::prelude::*;

use super::*;

/// A histogram of `values` with these bounds, as the SDK aggregates it (buckets include their
/// upper bound), and the bucket of each value in ascending order of the values.
fn aggregate(values: &[f64], bounds: &[f64]) -> (Vec<Bucket>, Summary, Vec<(f64, f64)>) {
    let bucket_of = |v: f64| bounds.iter().position(|&b| v <= b).unwrap_or(bounds.len());
    let mut counts = vec![0_u64; bounds.len() + 1];
    for &v in values {
        counts[bucket_of(v)] += 1;
    }
    let mut buckets = Vec::new();
    explicit_buckets(bounds.iter().copied(), counts.into_iter(), &mut buckets);
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let ranges = sorted
        .iter()
        .map(|&v| {
            let j = bucket_of(v);
            let lower = if j == 0 {
                f64::NEG_INFINITY
            } else {
                bounds[j - 1]
            };
            (lower, bounds.get(j).copied().unwrap_or(f64::INFINITY))
        })
        .collect();
    let summary = Summary {
        sum: values.iter().sum(),
        min: sorted.first().copied(),
        max: sorted.last().copied(),
    };
    (buckets, summary, ranges)
}

fn stand_ins(buckets: &mut [Bucket], summary: Summary) -> Vec<f64> {
    let mut out = vec![-1.0];
    let range = samples(buckets, summary, &mut out).expect("something to write");
    assert_eq!(range.start, 1, "appended after what was there");
    out.split_off(1)
}

fn assert_close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not {expected}"
    );
}

proptest! {
    /// Count, sum, min and max are the histogram's; each stand-in lies in the bucket of the
    /// recorded value of the same rank, so every percentile is right to a bucket's width.
    #[test]
    fn stand_ins_keep_every_statistic(
        values in prop::collection::vec(0.0..1_000.0_f64, 1..400),
        mut bounds in prop::collection::vec(0.0..1_000.0_f64, 0..25),
    ) {
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let (mut buckets, summary, ranges) = aggregate(&values, &bounds);
        let out = stand_ins(&mut buckets, summary);
        prop_assert_eq!(out.len(), values.len());
        assert_close(out.iter().sum(), summary.sum);
        prop_assert_eq!(out.first().copied(), summary.min);
        prop_assert_eq!(out.last().copied(), summary.max);
        for (value, (lower, upper)) in out.iter().zip(&ranges) {
            prop_assert!(lower <= value && value <= upper, "{} outside [{}, {}]", value, lower, upper);
        }
        prop_assert!(out.windows(2).all(|w| w[0] <= w[1]), "ascending: {:?}", out);
    }
}

#[test]
fn one_recording_is_written_as_itself() {
    let (mut buckets, summary, _) = aggregate(&[0.0123], &[0.001, 0.01, 0.1, 1.0]);
    assert_eq!(stand_ins(&mut buckets, summary), [0.0123]);
}

#[test]
fn past_the_cap_evenly_spaced_ranks_keep_the_average() {
    let values: Vec<f64> = (0..25_000).map(|i| f64::from(i % 1_000)).collect();
    let bounds = [10.0, 100.0, 250.0, 500.0, 900.0];
    let (mut buckets, summary, ranges) = aggregate(&values, &bounds);
    let out = stand_ins(&mut buckets, summary);
    assert_eq!(out.len(), MAX_SAMPLES);
    assert_close(
        out.iter().sum::<f64>() / out.len() as f64,
        summary.sum / 25_000.0,
    );
    assert_eq!(out[0], 0.0);
    assert_eq!(out[MAX_SAMPLES - 1], 999.0);
    let ranks = Ranks {
        total: 25_000,
        written: MAX_SAMPLES,
        pinned_first: true,
        pinned_last: true,
    };
    for (k, value) in out.iter().enumerate() {
        let (lower, upper) = ranges[usize::try_from(ranks.rank(k)).expect("small")];
        assert!(lower <= *value && *value <= upper, "stand-in {k}: {value}");
    }
}

#[test]
fn without_min_and_max_open_buckets_stop_at_their_bound() {
    let mut buckets = Vec::new();
    explicit_buckets([1.0, 5.0].into_iter(), [1, 2, 1].into_iter(), &mut buckets);
    let summary = Summary {
        sum: 13.0,
        min: None,
        max: None,
    };
    let out = stand_ins(&mut buckets, summary);
    assert_eq!(out.len(), 4);
    assert_eq!(out[0], 1.0, "the first bucket collapses onto its bound");
    assert_eq!(out[3], 5.0, "the last bucket collapses onto its bound");
    assert!(out[1..3].iter().all(|v| (1.0..=5.0).contains(v)), "{out:?}");
    assert_close(out.iter().sum(), 13.0);
}

#[test]
fn without_bounds_min_or_max_every_value_is_the_mean() {
    let mut buckets = vec![Bucket {
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
        count: 4,
    }];
    let summary = Summary {
        sum: 10.0,
        min: None,
        max: None,
    };
    assert_eq!(stand_ins(&mut buckets, summary), [2.5; 4]);
}

#[test]
fn nothing_for_an_empty_histogram_or_numbers_cloudwatch_refuses() {
    let mut out = Vec::new();
    let summary = |sum, max| Summary {
        sum,
        min: Some(0.0),
        max: Some(max),
    };
    assert_eq!(samples(&mut [], summary(0.0, 0.0), &mut out), None);
    let mut one = [Bucket {
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
        count: 1,
    }];
    assert_eq!(samples(&mut one, summary(f64::NAN, 1.0), &mut out), None);
    assert_eq!(samples(&mut one, summary(1e200, 1e200), &mut out), None);
    assert_eq!(
        samples(&mut one, summary(1.0, f64::INFINITY), &mut out),
        None
    );
    assert!(out.is_empty());
}

#[test]
fn exponential_buckets_ascend_through_negative_zero_and_positive() {
    let mut buckets = Vec::new();
    // Scale 0: base 2. Negative buckets 1 and 2 hold magnitudes (2, 4] and (4, 8].
    exponential_buckets(
        0,
        (3, 0.0),
        (0, [1, 0, 2].into_iter()),
        (1, [5, 6].into_iter()),
        &mut buckets,
    );
    let bucket = |lower, upper, count| Bucket {
        lower,
        upper,
        count,
    };
    assert_eq!(
        buckets,
        [
            bucket(-8.0, -4.0, 6),
            bucket(-4.0, -2.0, 5),
            bucket(-0.0, 0.0, 3),
            bucket(1.0, 2.0, 1),
            bucket(4.0, 8.0, 2),
        ]
    );
    // Scale 1: base √2, so bucket 2 holds (2, 2^1.5].
    buckets.clear();
    exponential_buckets(
        1,
        (0, 0.0),
        (2, [1].into_iter()),
        (0, std::iter::empty()),
        &mut buckets,
    );
    assert_eq!(buckets, [bucket(2.0, 1.5_f64.exp2(), 1)]);
}
