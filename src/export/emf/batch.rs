//! What one collection puts on which line: a value per data point, grouped by dimension set,
//! packed into lines within the specification's limits.

use std::ops::Range;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};

use super::dimensions::{Dimension, Dimensions, RESERVED, printable};
use super::histogram::{self, Bucket, LIMIT, Summary};
use super::units::cloudwatch_unit;

/// Metrics on one line: the specification's limit for a directive's `Metrics`.
pub(super) const MAX_METRICS: usize = 100;
/// Numbers in one metric's array: the specification's limit for a numeric array target.
pub(super) const MAX_VALUES: usize = 100;
/// The longest metric name CloudWatch takes (`MetricName` in its API).
const MAX_METRIC_NAME_LEN: usize = 255;

/// The value of one data point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value {
    Int(i64),
    UInt(u64),
    Float(f64),
    /// A histogram's stand-in values, in the batch's shared sample buffer.
    Samples {
        start: usize,
        len: usize,
    },
}

impl Value {
    /// Lines this value takes: one, or one per [`MAX_VALUES`] stand-ins.
    fn chunks(self) -> usize {
        match self {
            Self::Samples { len, .. } => len.div_ceil(MAX_VALUES),
            _ => 1,
        }
    }
}

/// One data point to write: a metric of a line.
#[derive(Debug)]
pub(super) struct Entry<'a> {
    pub name: &'a str,
    pub unit: &'static str,
    pub value: Value,
    /// Its dimension set, an index into [`Batch::groups`].
    group: usize,
}

/// One metric on one line: the entry and which of its chunks of values.
#[derive(Debug, Clone, Copy)]
pub(super) struct Selected<'a, 'b> {
    pub entry: &'b Entry<'a>,
    pub chunk: usize,
}

/// A dimension set and the points that have it.
#[derive(Debug)]
struct Group {
    dimensions: Range<usize>,
    /// Compared first, so that finding a point's group is cheap with many groups.
    hash: u64,
}

/// Every data point of a collection worth a line, grouped by dimension set.
pub(super) struct Batch<'a> {
    dimensions: Vec<Dimension<'a>>,
    groups: Vec<Group>,
    entries: Vec<Entry<'a>>,
}

impl<'a> Batch<'a> {
    /// Collects every point CloudWatch can take; histogram stand-ins go to `samples`.
    pub(super) fn collect(metrics: &'a ResourceMetrics, samples: &mut Vec<f64>) -> Self {
        let mut collector = Collector {
            batch: Self {
                dimensions: Vec::new(),
                groups: Vec::new(),
                entries: Vec::new(),
            },
            picker: Dimensions::new(metrics.resource()),
            samples,
            buckets: Vec::new(),
        };
        for scope in metrics.scope_metrics() {
            for metric in scope.metrics().filter(|m| valid_metric_name(m.name())) {
                match metric.data() {
                    AggregatedMetrics::F64(data) => collector.metric(metric, data),
                    AggregatedMetrics::I64(data) => collector.metric(metric, data),
                    AggregatedMetrics::U64(data) => collector.metric(metric, data),
                }
            }
        }
        let mut batch = collector.batch;
        batch.sort();
        batch
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Calls `write` with each line: its dimensions and its metrics. A line holds at most
    /// [`MAX_METRICS`] metrics and each name once; a histogram with more than [`MAX_VALUES`]
    /// stand-ins continues on the next lines of its dimension set.
    pub(super) fn for_each_line<E>(
        &self,
        mut write: impl FnMut(&[Dimension<'a>], &[Selected<'a, '_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut selected = Vec::with_capacity(self.entries.len().min(MAX_METRICS));
        let mut next_chunk = Vec::new();
        for entries in self.entries.chunk_by(|a, b| a.group == b.group) {
            let group = &self.groups[entries[0].group];
            let dimensions = &self.dimensions[group.dimensions.clone()];
            next_chunk.clear();
            next_chunk.resize(entries.len(), 0);
            loop {
                selected.clear();
                let mut previous: Option<&str> = None;
                for (entry, next) in entries.iter().zip(&mut next_chunk) {
                    if selected.len() == MAX_METRICS {
                        break;
                    }
                    // Entries are sorted by name: a second point of the same name (two meters
                    // with one instrument name) waits for the next line.
                    if *next == entry.value.chunks() || previous == Some(entry.name) {
                        continue;
                    }
                    selected.push(Selected {
                        entry,
                        chunk: *next,
                    });
                    *next += 1;
                    previous = Some(entry.name);
                }
                if selected.is_empty() {
                    break;
                }
                write(dimensions, &selected)?;
            }
        }
        Ok(())
    }

    /// Orders groups by their dimensions and entries by group, then name: the same
    /// collection always gives the same lines, whatever order the SDK's maps hand points out.
    fn sort(&mut self) {
        let dimensions = &self.dimensions;
        let of = |group: &Group| &dimensions[group.dimensions.clone()];
        let mut order: Vec<usize> = (0..self.groups.len()).collect();
        order.sort_by(|&a, &b| of(&self.groups[a]).cmp(of(&self.groups[b])));
        let mut rank = vec![0; order.len()];
        for (position, &group) in order.iter().enumerate() {
            rank[group] = position;
        }
        self.entries.sort_by(|a, b| {
            rank[a.group]
                .cmp(&rank[b.group])
                .then_with(|| a.name.cmp(b.name))
        });
    }
}

/// The state of [`Batch::collect`].
struct Collector<'a, 's> {
    batch: Batch<'a>,
    picker: Dimensions<'a>,
    samples: &'s mut Vec<f64>,
    /// One histogram point's buckets, reused from one point to the next.
    buckets: Vec<Bucket>,
}

impl<'a> Collector<'a, '_> {
    fn metric<T: Number>(&mut self, metric: &'a Metric, data: &'a MetricData<T>) {
        let unit = cloudwatch_unit(metric.unit());
        let name = metric.name();
        match data {
            // A gauge's point is its last value; a sum's is what it added since the last
            // collection (counters: the reader is delta), or the current level for an
            // up-down counter, which the SDK keeps cumulative whatever the reader asks.
            MetricData::Gauge(gauge) => {
                for point in gauge.data_points() {
                    self.push(name, unit, point.attributes(), point.value().value());
                }
            }
            MetricData::Sum(sum) => {
                for point in sum.data_points() {
                    self.push(name, unit, point.attributes(), point.value().value());
                }
            }
            MetricData::Histogram(histogram) => {
                for point in histogram.data_points() {
                    self.buckets.clear();
                    histogram::explicit_buckets(
                        point.bounds(),
                        point.bucket_counts(),
                        &mut self.buckets,
                    );
                    let value = self.samples(summary(point.sum(), point.min(), point.max()));
                    self.push(name, unit, point.attributes(), value);
                }
            }
            MetricData::ExponentialHistogram(histogram) => {
                for point in histogram.data_points() {
                    self.buckets.clear();
                    let (positive, negative) = (point.positive_bucket(), point.negative_bucket());
                    histogram::exponential_buckets(
                        point.scale(),
                        (point.zero_count(), point.zero_threshold()),
                        (positive.offset(), positive.counts()),
                        (negative.offset(), negative.counts()),
                        &mut self.buckets,
                    );
                    let value = self.samples(summary(point.sum(), point.min(), point.max()));
                    self.push(name, unit, point.attributes(), value);
                }
            }
        }
    }

    /// A histogram point's stand-ins; `None` when it has none (no recording since the last
    /// collection: CloudWatch would count an empty array as nothing anyway).
    fn samples(&mut self, summary: Summary) -> Option<Value> {
        histogram::samples(&mut self.buckets, summary, self.samples).map(|range| Value::Samples {
            start: range.start,
            len: range.len(),
        })
    }

    fn push(
        &mut self,
        name: &'a str,
        unit: &'static str,
        attributes: impl Iterator<Item = &'a KeyValue>,
        value: Option<Value>,
    ) {
        let Some(value) = value else { return };
        let batch = &mut self.batch;
        let start = batch.dimensions.len();
        self.picker
            .of_point(name, attributes, &mut batch.dimensions);
        let mine = &batch.dimensions[start..];
        let hash = hash(mine);
        let existing = batch
            .groups
            .iter()
            .position(|g| g.hash == hash && batch.dimensions[g.dimensions.clone()] == *mine);
        let group = match existing {
            Some(group) => {
                batch.dimensions.truncate(start);
                group
            }
            None => {
                batch.groups.push(Group {
                    dimensions: start..batch.dimensions.len(),
                    hash,
                });
                batch.groups.len() - 1
            }
        };
        batch.entries.push(Entry {
            name,
            unit,
            value,
            group,
        });
    }
}

fn summary<T: Number>(sum: T, min: Option<T>, max: Option<T>) -> Summary {
    Summary {
        sum: sum.to_f64(),
        min: min.map(Number::to_f64),
        max: max.map(Number::to_f64),
    }
}

fn hash(dimensions: &[Dimension<'_>]) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(dimensions)
}

/// CloudWatch's rules for a metric name (1 to 255 printable ASCII characters); `_aws` is the
/// metadata's member and `level` the line's log level. Other instrument names always qualify:
/// this guards the line.
fn valid_metric_name(name: &str) -> bool {
    name.len() <= MAX_METRIC_NAME_LEN && printable(name) && !RESERVED.contains(&name)
}

/// The value types of the SDK's instruments.
trait Number: Copy {
    /// The point's value, when CloudWatch takes it: finite, within ±2^360.
    fn value(self) -> Option<Value>;
    fn to_f64(self) -> f64;
}

impl Number for u64 {
    fn value(self) -> Option<Value> {
        Some(Value::UInt(self))
    }

    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Number for i64 {
    fn value(self) -> Option<Value> {
        Some(Value::Int(self))
    }

    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Number for f64 {
    fn value(self) -> Option<Value> {
        (self.is_finite() && self.abs() <= LIMIT).then_some(Value::Float(self))
    }

    fn to_f64(self) -> f64 {
        self
    }
}
