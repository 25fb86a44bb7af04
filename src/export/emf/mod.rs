//! CloudWatch Embedded Metric Format (EMF): metrics as JSON lines on stdout.
//!
//! With `OTEL_METRICS_EXPORTER=emf`, the per-invocation flush collects the metrics (as deltas)
//! and writes them as [EMF] documents, one JSON object per line, on the function's stdout.
//! Lambda ships stdout to CloudWatch Logs, which extracts the metrics: no collector, no
//! network call, no `cloudwatch:PutMetricData` permission. The lines are written before the
//! runtime asks for the next event, so none is lost when the environment is frozen.
//!
//! # A line
//!
//! The lines of the dice roller's first invocation, a cold start that rolled a 5 (from the
//! integration test; `dice.rolls` gets a line per `roll.value`):
//!
//! ```text
//! {"_aws":{"Timestamp":1795930740072,"CloudWatchMetrics":[{"Namespace":"dice-roller","Dimensions":[["service","faas.trigger"]],"Metrics":[{"Name":"faas.coldstarts","Unit":"Count"},{"Name":"faas.init_duration","Unit":"Seconds"},{"Name":"faas.invocations","Unit":"Count"},{"Name":"faas.invoke_duration","Unit":"Seconds"}]}]},"level":"INFO","service":"dice-roller","faas.trigger":"http","faas.coldstarts":1,"faas.init_duration":[0.004819579],"faas.invocations":1,"faas.invoke_duration":[0.001760731]}
//! {"_aws":{"Timestamp":1795930740072,"CloudWatchMetrics":[{"Namespace":"dice-roller","Dimensions":[["service","roll.value"]],"Metrics":[{"Name":"dice.rolls","Unit":"Count"}]}]},"level":"INFO","service":"dice-roller","roll.value":"5","dice.rolls":1}
//! ```
//!
//! Each line has one directive (namespace: `LAMBDA_OTEL_EMF_NAMESPACE`, by default the
//! service name), one dimension set, and every metric whose data points have that set of
//! dimensions; `Timestamp` is when the line was written, in milliseconds. Metric names are
//! the instruments' names, unchanged. Lines are in a stable order: by dimensions, then by
//! metric name.
//!
//! # Dimensions
//!
//! Every distinct combination of dimension values is a CloudWatch custom metric, billed, so
//! only values with few distinct values are used:
//!
//! - `service`: the resource's `service.name` (when it qualifies as a value, see below),
//!   first in every set, under the name Lambda Powertools gives it, so functions sharing a
//!   namespace stay apart and metrics from both libraries slice the same way. It does not
//!   multiply the metrics: a function has one service name.
//! - The data point's attributes whose value is a string, an integer or a boolean (as
//!   `"true"`/`"false"`), sorted by name. Dropped: floats (measurements) and arrays; strings
//!   that are empty, only spaces, not ASCII, with control characters or over 256 characters
//!   (a longer one is almost always an id or a URL; CloudWatch's own limit is 1,024); names
//!   CloudWatch refuses (empty, over 250 characters, not ASCII, starting with `:`); and names
//!   already taken on the line (`_aws`, `level`, `service`, the metric's own name).
//! - No other resource attribute: `faas.instance` differs in every execution environment,
//!   so each one would be another metric.
//!
//! A set holds at most 30 dimensions: `service` and the first 29 attribute names in sorted
//! order; the rest are left out.
//!
//! # Values
//!
//! | instrument | value on the line |
//! | --- | --- |
//! | counter | what it added since the last flush (a delta: the reader asks for deltas) |
//! | up-down counter | its current level (the SDK keeps these cumulative) |
//! | gauge | its last value |
//! | histogram, exponential histogram | an array of stand-in values, see below |
//!
//! Integer instruments write integers. A point with no recording since the last flush
//! writes nothing; a counter that added 0 writes 0, a real observation for CloudWatch. A
//! value CloudWatch would refuse (not finite, beyond ±2^360) is left out.
//!
//! ## Histograms
//!
//! The specification defines a metric value as a number or an array of at most 100 numbers,
//! each counted as one sample. A histogram point keeps only its count, sum, min, max and
//! bucket counts, so it is written as `count` stand-in values with exactly that count, sum,
//! min and max, each inside its bucket: CloudWatch's SampleCount, Sum, Minimum, Maximum and
//! Average are the histogram's, and its percentiles are right to the width of a bucket (they
//! need values: CloudWatch computes none from a statistic set, which the specification does
//! not define for EMF anyway). Over 100 values continue on the next lines of the same
//! dimension set; past 10,000 recordings in one flush, 10,000 evenly spaced ranks stand for
//! them (average, min, max and percentiles stay right; SampleCount and Sum are the
//! stand-ins').
//!
//! # Units
//!
//! CloudWatch only labels values with a unit from its fixed list:
//!
//! | OpenTelemetry | CloudWatch |
//! | --- | --- |
//! | `s`, `ms`, `us` | `Seconds`, `Milliseconds`, `Microseconds` |
//! | `By`, `kBy`/`KiBy` ... `TBy`/`TiBy` | `Bytes`, `Kilobytes` ... `Terabytes` |
//! | `bit`, `kbit`/`Kibit` ... `Tbit`/`Tibit` | `Bits`, `Kilobits` ... `Terabits` |
//! | `%` | `Percent` |
//! | `{roll}`, `{invocation}` (counts of things) | `Count` |
//! | any of these over `/s`, and `1/s` | `Bytes/Second` ... `Count/Second` |
//! | `1` (a ratio, in the semantic conventions), `ns`, `min`, anything else | `None` |
//!
//! # Lambda's log-level filtering
//!
//! With the JSON log format and an application log level (`AWS_LAMBDA_LOG_LEVEL`), Lambda
//! reads each line's `level` member and drops the lines below that level; a line without one
//! counts as `INFO`. So with `WARN`, `ERROR` or `FATAL` an EMF line without a level would be
//! dropped, and its metrics lost without a word. Every line carries `"level"`: `INFO`, or the
//! application log level when it is above `INFO`, the lowest level Lambda keeps. A metric or
//! an attribute named `level` is left out, like `_aws`. In Logs Insights, the metric lines
//! then show at that level; `filter ispresent(_aws)` tells them apart from log lines.
//!
//! # Limits
//!
//! At most 100 metrics per line (more go on further lines with the same dimensions), 100
//! numbers per array, 30 dimensions per set; each name appears once per line (two meters
//! with the same instrument name give two lines). All the lines of a flush are written with
//! one `write_all` (one system call, and no log line of the function can come between them).
//! An error writing stdout fails the export: the flush reports it, and the invocation goes on.
//!
//! [EMF]: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

mod batch;
mod dimensions;
mod histogram;
mod line;
mod units;

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use batch::Batch;
use line::Line;

/// Writes every collected metric as EMF lines, on stdout unless given another writer.
pub(crate) struct EmfExporter {
    namespace: String,
    level: &'static str,
    output: Mutex<Output>,
    is_shutdown: AtomicBool,
}

/// The writer and the buffers reused from one export to the next.
struct Output {
    writer: Box<dyn Write + Send>,
    /// Every line of an export, written with a single `write_all`: stdout's lock keeps them
    /// whole among the function's own log lines, and the flush costs one `write` call.
    line: Vec<u8>,
    /// Histogram stand-ins.
    samples: Vec<f64>,
}

impl EmfExporter {
    /// Writes to the process's stdout, under `namespace` (already checked against
    /// CloudWatch's rules by the settings).
    pub(crate) fn new(namespace: String) -> Self {
        Self::with_writer(namespace, io::stdout())
    }

    /// Writes to `writer` instead of stdout, with the level `INFO`.
    pub(crate) fn with_writer(namespace: String, writer: impl Write + Send + 'static) -> Self {
        Self {
            namespace,
            level: "INFO",
            output: Mutex::new(Output {
                writer: Box::new(writer),
                line: Vec::new(),
                samples: Vec::new(),
            }),
            is_shutdown: AtomicBool::new(false),
        }
    }

    /// Every line's `level` member (see the module docs, "Lambda's log-level filtering").
    pub(crate) fn with_level(mut self, level: &'static str) -> Self {
        self.level = level;
        self
    }

    fn write(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        if self.is_shutdown.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let mut output = self.lock();
        let Output {
            writer,
            line,
            samples,
        } = &mut *output;
        samples.clear();
        let batch = Batch::collect(metrics, samples);
        if batch.is_empty() {
            return Ok(());
        }
        let samples: &[f64] = samples;
        let timestamp = epoch_millis(SystemTime::now());
        line.clear();
        batch.for_each_line(|dimensions, metrics| {
            let document = Line {
                namespace: &self.namespace,
                level: self.level,
                timestamp,
                dimensions,
                metrics,
                samples,
            };
            serde_json::to_writer(&mut *line, &document)
                .map_err(|e| failure("serializing a line", &e))?;
            line.push(b'\n');
            Ok(())
        })?;
        writer
            .write_all(line)
            .map_err(|e| failure("writing stdout", &e))?;
        writer.flush().map_err(|e| failure("flushing stdout", &e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Output> {
        // A panic mid-export leaves nothing half-done that matters: the buffers are cleared
        // before use, and refusing would drop every later batch.
        self.output.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PushMetricExporter for EmfExporter {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        std::future::ready(self.write(metrics))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.lock()
            .writer
            .flush()
            .map_err(|e| failure("flushing stdout", &e))
    }

    /// Refuses every later export; what was written is flushed.
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.is_shutdown.store(true, Ordering::Relaxed);
        self.force_flush()
    }

    /// CloudWatch adds up the values of a period: every line carries what happened since the
    /// last one.
    fn temporality(&self) -> Temporality {
        Temporality::Delta
    }
}

impl fmt::Debug for EmfExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The writer is left out so that any `Write` can be used, Debug or not.
        f.debug_struct("EmfExporter")
            .field("namespace", &self.namespace)
            .field("level", &self.level)
            .field("is_shutdown", &self.is_shutdown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn failure(what: &str, error: &dyn fmt::Display) -> OTelSdkError {
    OTelSdkError::InternalFailure(format!("emf exporter: {what} failed: {error}"))
}

fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
