//! Metrics and logs as the receiver decodes them, flattened like
//! [`ReceivedSpan`](super::ReceivedSpan): every item carries the attributes of
//! its resource and the name of its scope.
//!
//! A child of `otlp` (declared there with `#[path]`); its types are reached as
//! `common::otlp::ReceivedMetric` and so on.

use std::collections::HashMap;
use std::fmt::Debug;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    HistogramDataPoint, NumberDataPoint, metric, number_data_point,
};

use super::{Value, attributes, hex, resource_attributes, scope_name};

/// The `AggregationTemporality` of a sum or a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    /// 1: each point covers the time since the previous export.
    Delta,
    /// 2: each point covers the time since the start.
    Cumulative,
    /// 0, or a number OTLP does not define.
    Unspecified,
}

impl Temporality {
    fn from_proto(temporality: i32) -> Self {
        match temporality {
            1 => Self::Delta,
            2 => Self::Cumulative,
            _ => Self::Unspecified,
        }
    }
}

/// The value of a sum or gauge point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// `asInt`.
    Int(i64),
    /// `asDouble`.
    Double(f64),
}

impl Number {
    /// The value as a float, whichever it is.
    #[allow(clippy::cast_precision_loss)] // test values are small
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Double(d) => d,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(i),
            Self::Double(_) => None,
        }
    }
}

/// One point of a sum or a gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberPoint {
    /// Point attributes (the timeseries).
    pub attributes: HashMap<String, Value>,
    /// Start of the interval, Unix nanoseconds (0 when absent).
    pub start_ns: u64,
    /// End of the interval, Unix nanoseconds.
    pub time_ns: u64,
    /// The value.
    pub value: Number,
}

impl NumberPoint {
    /// A point without a value is rejected, as OTLP calls it invalid.
    fn from_proto(point: NumberDataPoint) -> Result<Self, String> {
        let value = match point.value {
            Some(number_data_point::Value::AsInt(i)) => Number::Int(i),
            Some(number_data_point::Value::AsDouble(d)) => Number::Double(d),
            None => return Err("a number point without a value".to_owned()),
        };
        Ok(Self {
            attributes: attributes(point.attributes),
            start_ns: point.start_time_unix_nano,
            time_ns: point.time_unix_nano,
            value,
        })
    }
}

/// One point of an explicit-bucket histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// Point attributes (the timeseries).
    pub attributes: HashMap<String, Value>,
    /// Start of the interval, Unix nanoseconds.
    pub start_ns: u64,
    /// End of the interval, Unix nanoseconds.
    pub time_ns: u64,
    /// How many values were recorded.
    pub count: u64,
    /// Their sum, when sent.
    pub sum: Option<f64>,
    /// The smallest value, when sent.
    pub min: Option<f64>,
    /// The largest value, when sent.
    pub max: Option<f64>,
    /// Explicit bucket bounds, ascending.
    pub bounds: Vec<f64>,
    /// Counts per bucket: one more than there are bounds (or none).
    pub bucket_counts: Vec<u64>,
}

impl HistogramPoint {
    fn from_proto(point: HistogramDataPoint) -> Self {
        Self {
            attributes: attributes(point.attributes),
            start_ns: point.start_time_unix_nano,
            time_ns: point.time_unix_nano,
            count: point.count,
            sum: point.sum,
            min: point.min,
            max: point.max,
            bounds: point.explicit_bounds,
            bucket_counts: point.bucket_counts,
        }
    }
}

attribute_getters!(NumberPoint, HistogramPoint);

/// The data of a metric, reduced to the kinds tests assert on.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricData {
    /// A sum (counter or up-down counter).
    Sum {
        /// True for counters.
        monotonic: bool,
        /// Delta or cumulative.
        temporality: Temporality,
        /// The points, in the order sent.
        points: Vec<NumberPoint>,
    },
    /// A gauge.
    Gauge {
        /// The points, in the order sent.
        points: Vec<NumberPoint>,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Delta or cumulative.
        temporality: Temporality,
        /// The points, in the order sent.
        points: Vec<HistogramPoint>,
    },
    /// An exponential histogram, a summary, or no data: what it was.
    Other(String),
}

impl MetricData {
    fn from_proto(data: Option<metric::Data>) -> Result<Self, String> {
        let number_points = |points: Vec<NumberDataPoint>| {
            points
                .into_iter()
                .map(NumberPoint::from_proto)
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match data {
            Some(metric::Data::Sum(sum)) => Self::Sum {
                monotonic: sum.is_monotonic,
                temporality: Temporality::from_proto(sum.aggregation_temporality),
                points: number_points(sum.data_points)?,
            },
            Some(metric::Data::Gauge(gauge)) => Self::Gauge {
                points: number_points(gauge.data_points)?,
            },
            Some(metric::Data::Histogram(histogram)) => Self::Histogram {
                temporality: Temporality::from_proto(histogram.aggregation_temporality),
                points: (histogram.data_points.into_iter())
                    .map(HistogramPoint::from_proto)
                    .collect(),
            },
            Some(metric::Data::ExponentialHistogram(_)) => {
                Self::Other("exponential histogram".to_owned())
            }
            Some(metric::Data::Summary(_)) => Self::Other("summary".to_owned()),
            None => Self::Other("no data".to_owned()),
        })
    }
}

/// One received metric of one export, flattened together with its resource
/// and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    /// Instrument name.
    pub name: String,
    /// Instrument description.
    pub description: String,
    /// Unit (UCUM), empty when none.
    pub unit: String,
    /// Kind and points.
    pub data: MetricData,
    /// Attributes of the metric's resource.
    pub resource: HashMap<String, Value>,
    /// Instrumentation scope (meter) name.
    pub scope_name: String,
}

impl ReceivedMetric {
    /// The points of a sum; panics when this is not a sum.
    pub fn sum_points(&self) -> &[NumberPoint] {
        match &self.data {
            MetricData::Sum { points, .. } => points,
            _ => self.not_a("sum"),
        }
    }

    /// The points of a gauge; panics when this is not a gauge.
    pub fn gauge_points(&self) -> &[NumberPoint] {
        match &self.data {
            MetricData::Gauge { points } => points,
            _ => self.not_a("gauge"),
        }
    }

    /// The points of a histogram; panics when this is not a histogram.
    pub fn histogram_points(&self) -> &[HistogramPoint] {
        match &self.data {
            MetricData::Histogram { points, .. } => points,
            _ => self.not_a("histogram"),
        }
    }

    /// The temporality of a sum or histogram; `None` for other kinds.
    pub fn temporality(&self) -> Option<Temporality> {
        match &self.data {
            MetricData::Sum { temporality, .. } | MetricData::Histogram { temporality, .. } => {
                Some(*temporality)
            }
            _ => None,
        }
    }

    /// The one sum point whose attribute `key` is `value`; panics, listing
    /// the points, unless exactly one matches.
    pub fn sum_point(&self, key: &str, value: impl Into<Value>) -> &NumberPoint {
        self.only_point(self.sum_points(), |p| &p.attributes, key, value.into())
    }

    /// The one gauge point whose attribute `key` is `value`; panics, listing
    /// the points, unless exactly one matches.
    pub fn gauge_point(&self, key: &str, value: impl Into<Value>) -> &NumberPoint {
        self.only_point(self.gauge_points(), |p| &p.attributes, key, value.into())
    }

    /// The one histogram point whose attribute `key` is `value`; panics,
    /// listing the points, unless exactly one matches.
    pub fn histogram_point(&self, key: &str, value: impl Into<Value>) -> &HistogramPoint {
        self.only_point(
            self.histogram_points(),
            |p| &p.attributes,
            key,
            value.into(),
        )
    }

    fn only_point<'a, P: Debug>(
        &self,
        points: &'a [P],
        attributes: impl Fn(&P) -> &HashMap<String, Value>,
        key: &str,
        value: Value,
    ) -> &'a P {
        let mut matching = points
            .iter()
            .filter(|p| attributes(p).get(key) == Some(&value));
        match (matching.next(), matching.next()) {
            (Some(point), None) => point,
            _ => panic!(
                "{}: not exactly one point with {key} = {value:?} in {points:#?}",
                self.name
            ),
        }
    }

    fn not_a(&self, kind: &str) -> ! {
        panic!("{} is not a {kind}: {:#?}", self.name, self.data)
    }
}

/// Flattens an export request into one [`ReceivedMetric`] per metric; a
/// number point without a value makes the whole request invalid.
pub(super) fn flatten_metrics(
    request: ExportMetricsServiceRequest,
) -> Result<Vec<ReceivedMetric>, String> {
    let mut metrics = Vec::new();
    for resource_metrics in request.resource_metrics {
        let resource = resource_attributes(resource_metrics.resource);
        for scope_metrics in resource_metrics.scope_metrics {
            let scope_name = scope_name(scope_metrics.scope);
            for metric in scope_metrics.metrics {
                let data = MetricData::from_proto(metric.data)
                    .map_err(|why| format!("metric {:?}: {why}", metric.name))?;
                metrics.push(ReceivedMetric {
                    name: metric.name,
                    description: metric.description,
                    unit: metric.unit,
                    data,
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                });
            }
        }
    }
    Ok(metrics)
}

/// One received log record, flattened together with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    /// When the event happened, Unix nanoseconds (0 when unknown).
    pub time_ns: u64,
    /// When it was observed, Unix nanoseconds.
    pub observed_ns: u64,
    /// OTLP `SeverityNumber` (9 info, 13 warn, 17 error, ...; 0 unset).
    pub severity_number: i32,
    /// Severity as text (`INFO`, ...).
    pub severity_text: String,
    /// The body; `Value::Other("None")` when absent.
    pub body: Value,
    /// Record attributes.
    pub attributes: HashMap<String, Value>,
    /// 32 lowercase hex digits, empty outside a trace.
    pub trace_id: String,
    /// 16 lowercase hex digits, empty outside a span.
    pub span_id: String,
    /// Event name, empty for plain log records.
    pub event_name: String,
    /// Attributes of the record's resource.
    pub resource: HashMap<String, Value>,
    /// Instrumentation scope (logger) name.
    pub scope_name: String,
}

impl ReceivedLog {
    /// The body, if it is a string.
    pub fn body_str(&self) -> Option<&str> {
        self.body.as_str()
    }
}

attribute_getters!(ReceivedLog);

/// Flattens an export request into one [`ReceivedLog`] per record.
pub(super) fn flatten_logs(request: ExportLogsServiceRequest) -> Vec<ReceivedLog> {
    let mut logs = Vec::new();
    for resource_logs in request.resource_logs {
        let resource = resource_attributes(resource_logs.resource);
        for scope_logs in resource_logs.scope_logs {
            let scope_name = scope_name(scope_logs.scope);
            logs.extend(
                scope_logs
                    .log_records
                    .into_iter()
                    .map(|record| ReceivedLog {
                        time_ns: record.time_unix_nano,
                        observed_ns: record.observed_time_unix_nano,
                        severity_number: record.severity_number,
                        severity_text: record.severity_text,
                        body: Value::from_proto(record.body),
                        attributes: attributes(record.attributes),
                        trace_id: hex(&record.trace_id),
                        span_id: hex(&record.span_id),
                        event_name: record.event_name,
                        resource: resource.clone(),
                        scope_name: scope_name.clone(),
                    }),
            );
        }
    }
    logs
}
