//! The metric exporter: one JSON line per metric of a collection.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use serde::{Serialize, Serializer};

use super::json::{
    Attributes, LineWriter, Rfc3339, attribute_map, console_constructors, sorted_resource,
};

/// A [`PushMetricExporter`] that writes each metric as one JSON line, to stdout by default.
///
/// Every collection prints every metric again, with all its data points. See the
/// [module docs](super) for the line format.
#[derive(Debug)]
pub struct ConsoleMetricExporter {
    writer: LineWriter,
    temporality: Temporality,
}

console_constructors!(ConsoleMetricExporter {
    temporality: Temporality::Cumulative,
});

impl ConsoleMetricExporter {
    /// Sets the temporality this exporter asks for (cumulative unless set).
    ///
    /// It is only a preference reported by
    /// [`temporality`](PushMetricExporter::temporality): the reader decides, and each
    /// line prints the temporality the data actually has.
    #[must_use]
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self
    }
}

impl PushMetricExporter for ConsoleMetricExporter {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        // Pushed exporters get the resource with every export rather than once.
        let resource = sorted_resource(metrics.resource());
        let lines = metrics.scope_metrics().flat_map(|scope| {
            let resource = &resource;
            scope
                .metrics()
                .map(move |metric| MetricLine::new(metric, resource, scope.scope().name()))
        });
        std::future::ready(self.writer.write_lines(lines))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.writer.flush()
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.writer.shutdown()
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

/// The JSON shape of one metric; field order here is the order on the line.
#[derive(Serialize)]
struct MetricLine<'a> {
    name: &'a str,
    description: &'a str,
    unit: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    temporality: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    monotonic: Option<bool>,
    data_points: DataPoints<'a>,
    resource: Attributes<'a>,
    scope: &'a str,
}

impl<'a> MetricLine<'a> {
    fn new(metric: &'a Metric, resource: &'a [KeyValue], scope: &'a str) -> Self {
        let (kind, temporality, monotonic) = match metric.data() {
            AggregatedMetrics::F64(data) => shape(data),
            AggregatedMetrics::I64(data) => shape(data),
            AggregatedMetrics::U64(data) => shape(data),
        };
        Self {
            name: metric.name(),
            description: metric.description(),
            unit: metric.unit(),
            kind,
            temporality: temporality.map(temporality_name),
            monotonic,
            data_points: DataPoints(metric.data()),
            resource: Attributes(resource),
            scope,
        }
    }
}

/// The type, temporality (not for gauges) and monotonicity (sums only) of a metric.
fn shape<T>(data: &MetricData<T>) -> (&'static str, Option<Temporality>, Option<bool>) {
    match data {
        MetricData::Gauge(_) => ("gauge", None, None),
        MetricData::Sum(sum) => ("sum", Some(sum.temporality()), Some(sum.is_monotonic())),
        MetricData::Histogram(h) => ("histogram", Some(h.temporality()), None),
        MetricData::ExponentialHistogram(h) => {
            ("exponential_histogram", Some(h.temporality()), None)
        }
    }
}

fn temporality_name(temporality: Temporality) -> &'static str {
    match temporality {
        Temporality::Delta => "delta",
        // `LowMemory` is a reader preference that yields delta or cumulative data,
        // never data of its own; a variant added later is most likely the same.
        _ => "cumulative",
    }
}

struct DataPoints<'a>(&'a AggregatedMetrics);

impl Serialize for DataPoints<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AggregatedMetrics::F64(data) => data_points(serializer, data),
            AggregatedMetrics::I64(data) => data_points(serializer, data),
            AggregatedMetrics::U64(data) => data_points(serializer, data),
        }
    }
}

/// The two histogram point types have the same accessors but no trait in common.
macro_rules! histogram_points {
    ($serializer:expr, $histogram:expr, |$point:ident| $bounds:expr, $bucket_counts:expr) => {
        $serializer.collect_seq($histogram.data_points().map(|$point| HistogramPoint {
            attributes: PointAttributes(|| $point.attributes()),
            start_time: Rfc3339($histogram.start_time()),
            time: Rfc3339($histogram.time()),
            count: $point.count(),
            sum: $point.sum(),
            min: $point.min(),
            max: $point.max(),
            bounds: $bounds,
            bucket_counts: $bucket_counts,
        }))
    };
}

/// Serializes the points of one metric. Values keep their number type; a
/// non-finite float prints as `null` (serde_json has no other form for it).
fn data_points<T, S>(serializer: S, data: &MetricData<T>) -> Result<S::Ok, S::Error>
where
    T: Serialize + Copy,
    S: Serializer,
{
    match data {
        MetricData::Gauge(gauge) => {
            serializer.collect_seq(gauge.data_points().map(|point| ValuePoint {
                attributes: PointAttributes(|| point.attributes()),
                start_time: gauge.start_time().map(Rfc3339),
                time: Rfc3339(gauge.time()),
                value: point.value(),
            }))
        }
        MetricData::Sum(sum) => serializer.collect_seq(sum.data_points().map(|point| ValuePoint {
            attributes: PointAttributes(|| point.attributes()),
            start_time: Some(Rfc3339(sum.start_time())),
            time: Rfc3339(sum.time()),
            value: point.value(),
        })),
        MetricData::Histogram(histogram) => histogram_points!(
            serializer,
            histogram,
            |point| Some(point.bounds().collect()),
            Some(point.bucket_counts().collect())
        ),
        // Exponential buckets (scale, offsets) mean little without a tool to
        // decode them; the summary is what a console reader can use.
        MetricData::ExponentialHistogram(histogram) => {
            histogram_points!(serializer, histogram, |point| None, None)
        }
    }
}

/// A data point's attributes: the SDK hands them out only as an iterator, and
/// serializing needs `&self`, so this holds a way to get a fresh one.
struct PointAttributes<F>(F);

impl<'a, F, I> Serialize for PointAttributes<F>
where
    F: Fn() -> I,
    I: Iterator<Item = &'a KeyValue>,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        attribute_map(serializer, (self.0)())
    }
}

/// A sum or gauge point.
#[derive(Serialize)]
struct ValuePoint<A, T> {
    attributes: A,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<Rfc3339>,
    time: Rfc3339,
    value: T,
}

/// A histogram point; exponential histograms leave out the buckets (and count
/// in `usize`, hence `C`).
#[derive(Serialize)]
struct HistogramPoint<A, C, T> {
    attributes: A,
    start_time: Rfc3339,
    time: Rfc3339,
    count: C,
    sum: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bounds: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket_counts: Option<Vec<u64>>,
}

#[cfg(test)]
mod tests;
