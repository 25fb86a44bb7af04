//! One EMF document, serialized straight into the line buffer: the `_aws` metadata with one
//! metric directive, then the dimensions, then the metrics, all members of the root.

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use super::batch::{MAX_VALUES, Selected, Value};
use super::dimensions::{AWS, Dimension, DimensionValue, LEVEL};

/// Everything one line says.
pub(super) struct Line<'a, 'b> {
    pub namespace: &'b str,
    /// The log level Lambda reads the line at (see `EmfExporter`).
    pub level: &'b str,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub dimensions: &'b [Dimension<'a>],
    pub metrics: &'b [Selected<'a, 'b>],
    /// The batch's histogram stand-ins, which [`Value::Samples`] points into.
    pub samples: &'b [f64],
}

impl Serialize for Line<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut root = serializer.serialize_map(None)?;
        root.serialize_entry(AWS, &Metadata(self))?;
        root.serialize_entry(LEVEL, self.level)?;
        for dimension in self.dimensions {
            root.serialize_entry(dimension.name, &dimension.value)?;
        }
        for metric in self.metrics {
            let value = MetricValue {
                value: metric.entry.value,
                chunk: metric.chunk,
                samples: self.samples,
            };
            root.serialize_entry(metric.entry.name, &value)?;
        }
        root.end()
    }
}

/// `{"Timestamp": ..., "CloudWatchMetrics": [directive]}`.
struct Metadata<'l, 'a, 'b>(&'l Line<'a, 'b>);

impl Serialize for Metadata<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut metadata = serializer.serialize_struct("Metadata", 2)?;
        metadata.serialize_field("Timestamp", &self.0.timestamp)?;
        metadata.serialize_field("CloudWatchMetrics", &[Directive(self.0)])?;
        metadata.end()
    }
}

/// The one MetricDirective of a line: one dimension set, at most 100 metrics.
struct Directive<'l, 'a, 'b>(&'l Line<'a, 'b>);

impl Serialize for Directive<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let line = self.0;
        let names = line.dimensions.iter().map(|d| d.name);
        let definitions = line.metrics.iter().map(|m| Definition {
            name: m.entry.name,
            unit: m.entry.unit,
        });
        let mut directive = serializer.serialize_struct("MetricDirective", 3)?;
        directive.serialize_field("Namespace", line.namespace)?;
        directive.serialize_field("Dimensions", &[Seq::new(names)])?;
        directive.serialize_field("Metrics", &Seq::new(definitions))?;
        directive.end()
    }
}

#[derive(serde::Serialize)]
struct Definition<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Unit")]
    unit: &'static str,
}

/// Serializes an iterator as an array (serde needs `&self`, an iterator is used up once).
struct Seq<I>(std::cell::Cell<Option<I>>);

impl<I> Seq<I> {
    fn new(items: I) -> Self {
        Self(std::cell::Cell::new(Some(items)))
    }
}

impl<I> Serialize for Seq<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.take().into_iter().flatten())
    }
}

impl Serialize for DimensionValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A dimension target MUST be a string.
        match *self {
            Self::Str(s) => serializer.serialize_str(s),
            Self::Int(i) => serializer.collect_str(&i),
            Self::Bool(b) => serializer.serialize_str(if b { "true" } else { "false" }),
        }
    }
}

/// A metric target: a number, or one chunk of a histogram's stand-ins as an array.
struct MetricValue<'b> {
    value: Value,
    chunk: usize,
    samples: &'b [f64],
}

impl Serialize for MetricValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Int(v) => serializer.serialize_i64(v),
            Value::UInt(v) => serializer.serialize_u64(v),
            Value::Float(v) => serializer.serialize_f64(v),
            Value::Samples { start, len } => {
                let all = self.samples.get(start..start + len).unwrap_or_default();
                let chunk = all.chunks(MAX_VALUES).nth(self.chunk).unwrap_or_default();
                serializer.collect_seq(chunk)
            }
        }
    }
}
