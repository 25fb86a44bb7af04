//! The exporter on real collections: a meter provider with the flush's reader (delta), its
//! lines captured and each held to the specification by [`spec::check`].

mod limits;
mod output;
mod spec;
mod values;

use std::io;
use std::sync::{Arc, Mutex};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::reader::MetricReader as _;
use opentelemetry_sdk::metrics::{Aggregation, Instrument, SdkMeterProvider, Stream};
use serde_json::{Value as Json, json};

use super::*;
use crate::flush::SharedReader;

/// What the exporter wrote, one `write` call per entry (an export is one call).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<Vec<u8>>>>);

impl Captured {
    /// The lines written since the last call, each checked to be whole (every write ends
    /// with a line break) and to pass the specification, parsed.
    fn take(&self) -> Vec<Json> {
        let writes = std::mem::take(&mut *self.0.lock().expect("capture lock"));
        writes
            .iter()
            .flat_map(|write| {
                let text = std::str::from_utf8(write).expect("UTF-8");
                let lines = text.strip_suffix('\n').expect("a write ends a line");
                lines
                    .split('\n')
                    .map(|line| spec::check(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            })
            .collect()
    }

    /// How many `write` calls were made since the last [`take`](Self::take).
    fn writes(&self) -> usize {
        self.0.lock().expect("capture lock").len()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("capture lock").push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A meter provider as the telemetry builds it for EMF (the flush's reader, delta), and the
/// exporter the flush would call.
struct Fixture {
    provider: SdkMeterProvider,
    reader: SharedReader,
    captured: Captured,
    exporter: EmfExporter,
}

impl Fixture {
    fn new() -> Self {
        let reader = SharedReader::new(Temporality::Delta);
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .with_resource(
                Resource::builder_empty()
                    .with_service_name("dice-roller")
                    .with_attribute(KeyValue::new("faas.instance", "2026/11/21/[$LATEST]abc"))
                    .with_attribute(KeyValue::new("cloud.region", "eu-west-1"))
                    .build(),
            )
            .with_view(|instrument: &Instrument| {
                (instrument.name() == "dice.spread").then(|| {
                    Stream::builder()
                        .with_aggregation(Aggregation::Base2ExponentialHistogram {
                            max_size: 160,
                            max_scale: 20,
                            record_min_max: true,
                        })
                        .build()
                        .expect("valid stream")
                })
            })
            .build();
        let captured = Captured::default();
        let exporter = EmfExporter::with_writer("Dice".to_owned(), captured.clone());
        Self {
            provider,
            reader,
            captured,
            exporter,
        }
    }

    fn meter(&self) -> Meter {
        self.provider.meter("lambda-otel-test")
    }

    /// Collects and exports as the flush does; the lines written, which are written at once
    /// (one `write` call: one system call per flush, and nothing can come between them).
    fn export(&self) -> Vec<Json> {
        let mut metrics = ResourceMetrics::default();
        self.reader.collect(&mut metrics).expect("collect");
        poll_once(self.exporter.export(&metrics)).expect("export succeeds");
        assert!(self.captured.writes() <= 1, "one write per export");
        self.captured.take()
    }
}

/// The exporter's future is ready at once: polling once is enough.
fn poll_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the EMF export never waits"),
    }
}

/// The line's dimension set as `name=value` pairs, in order.
fn dimensions(line: &Json) -> Vec<String> {
    let sets = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
    let [set] = sets.as_array().expect("dimension sets").as_slice() else {
        panic!("one dimension set per line: {line}")
    };
    set.as_array()
        .expect("a set")
        .iter()
        .map(|name| {
            let name = name.as_str().expect("a name");
            format!("{name}={}", line[name].as_str().expect("a string value"))
        })
        .collect()
}

/// The names of the line's metrics, in order.
fn names(line: &Json) -> Vec<&str> {
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .expect("metric definitions")
        .iter()
        .map(|m| m["Name"].as_str().expect("a name"))
        .collect()
}

/// The unit the line's directive gives `metric`.
fn unit<'a>(line: &'a Json, metric: &str) -> &'a str {
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .expect("metric definitions")
        .iter()
        .find(|m| m["Name"] == metric)
        .and_then(|m| m["Unit"].as_str())
        .unwrap_or_else(|| panic!("no unit for {metric} in {line}"))
}

/// The one line with exactly these dimensions (after `service=dice-roller`).
fn line<'a>(lines: &'a [Json], dims: &[&str]) -> &'a Json {
    let mut expected = vec!["service=dice-roller".to_owned()];
    expected.extend(dims.iter().map(|d| (*d).to_owned()));
    let mut found = lines.iter().filter(|l| dimensions(l) == expected);
    match (found.next(), found.next()) {
        (Some(line), None) => line,
        _ => panic!("not one line with {expected:?} in {lines:#?}"),
    }
}

/// A histogram's stand-ins over all its lines with `dims`.
fn stand_ins(lines: &[Json], dims: &[&str], metric: &str) -> Vec<f64> {
    let mut expected = vec!["service=dice-roller".to_owned()];
    expected.extend(dims.iter().map(|d| (*d).to_owned()));
    lines
        .iter()
        .filter(|l| dimensions(l) == expected)
        .filter_map(|l| l[metric].as_array())
        .flatten()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{actual} is not {expected}"
    );
}
