use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::metrics::{Aggregation, SdkMeterProvider, Stream};
use serde_json::{Value as Json, json};

use crate::flush::SharedReader;
use opentelemetry_sdk::metrics::reader::MetricReader as _;

use super::super::test_support::{FailingWriter, SharedBuf, parse_rfc3339, poll_once};
use super::*;

/// A provider with the four synchronous instruments already recorded into once.
struct Fixture {
    provider: SdkMeterProvider,
    /// The reader the flush uses, shared with the provider.
    reader: SharedReader,
    buf: SharedBuf,
    exporter: ConsoleMetricExporter,
}

impl Fixture {
    fn new(temporality: Temporality) -> Self {
        let reader = SharedReader::new(temporality);
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .with_resource(
                Resource::builder_empty()
                    .with_service_name("dice-roller")
                    .with_attribute(KeyValue::new("cloud.provider", "aws"))
                    .build(),
            )
            .with_view(|instrument: &opentelemetry_sdk::metrics::Instrument| {
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
        let buf = SharedBuf::default();
        let exporter =
            ConsoleMetricExporter::with_writer(buf.clone()).with_temporality(temporality);
        let fixture = Self {
            provider,
            reader,
            buf,
            exporter,
        };
        fixture.record();
        fixture
    }

    fn record(&self) {
        let meter = self.provider.meter("lambda-otel-test");
        let (ada, bob) = (
            [KeyValue::new("dice.player", "ada")],
            [KeyValue::new("dice.player", "bob")],
        );
        let rolls = meter
            .u64_counter("dice.rolls")
            .with_description("Dice rolled")
            .with_unit("{roll}")
            .build();
        rolls.add(2, &ada);
        rolls.add(3, &ada);
        rolls.add(1, &bob);
        let in_hand = meter.i64_up_down_counter("dice.in_hand").build();
        in_hand.add(5, &ada);
        in_hand.add(-2, &ada);
        let duration = meter
            .f64_histogram("dice.roll_duration")
            .with_unit("ms")
            .with_boundaries(vec![1.0, 5.0, 10.0])
            .build();
        for value in [0.5, 3.0, 7.0, 12.0] {
            duration.record(value, &ada);
        }
        let temperature = meter.f64_gauge("dice.temperature").build();
        temperature.record(21.5, &ada);
        temperature.record(22.25, &ada);
        let spread = meter.u64_histogram("dice.spread").build();
        spread.record(2, &[]);
        spread.record(6, &[]);
    }

    /// Collects once and exports; returns every line printed so far.
    fn export(&self) -> Vec<Json> {
        let mut metrics = ResourceMetrics::default();
        self.reader.collect(&mut metrics).expect("collect");
        poll_once(self.exporter.export(&metrics)).expect("export succeeds");
        self.buf.lines()
    }
}

fn metric<'a>(lines: &'a [Json], name: &str) -> &'a Json {
    lines
        .iter()
        .rev()
        .find(|line| line["name"] == name)
        .unwrap_or_else(|| panic!("no line for {name} in {lines:?}"))
}

/// Data point order follows the SDK's hash maps, so points are found by attributes.
fn point<'a>(line: &'a Json, player: Option<&str>) -> &'a Json {
    let attributes = player.map_or_else(|| json!({}), |p| json!({ "dice.player": p }));
    let points = line["data_points"].as_array().expect("data_points array");
    points
        .iter()
        .find(|point| point["attributes"] == attributes)
        .unwrap_or_else(|| panic!("no point for {attributes} in {line}"))
}

#[test]
fn cumulative_sums_histograms_and_gauges() {
    let fixture = Fixture::new(Temporality::Cumulative);
    let lines = fixture.export();
    assert_eq!(lines.len(), 5, "one line per metric: {lines:?}");

    let rolls = metric(&lines, "dice.rolls");
    assert_eq!(rolls["description"], "Dice rolled");
    assert_eq!(rolls["unit"], "{roll}");
    assert_eq!(rolls["type"], "sum");
    assert_eq!(rolls["temporality"], "cumulative");
    assert_eq!(rolls["monotonic"], true);
    assert_eq!(point(rolls, Some("ada"))["value"], json!(5));
    assert_eq!(point(rolls, Some("bob"))["value"], json!(1));
    let start = parse_rfc3339(
        point(rolls, Some("ada"))["start_time"]
            .as_str()
            .expect("start"),
    );
    let time = parse_rfc3339(point(rolls, Some("ada"))["time"].as_str().expect("time"));
    assert!(start <= time);
    assert_eq!(
        rolls["resource"],
        json!({ "cloud.provider": "aws", "service.name": "dice-roller" })
    );
    assert_eq!(rolls["scope"], "lambda-otel-test");

    let in_hand = metric(&lines, "dice.in_hand");
    assert_eq!(in_hand["type"], "sum");
    assert_eq!(in_hand["monotonic"], false);
    assert_eq!(point(in_hand, Some("ada"))["value"], json!(3));

    let duration = metric(&lines, "dice.roll_duration");
    assert_eq!(duration["type"], "histogram");
    assert_eq!(duration["temporality"], "cumulative");
    assert!(duration.get("monotonic").is_none(), "monotonic is for sums");
    let histogram = point(duration, Some("ada"));
    assert_eq!(histogram["count"], 4);
    assert_eq!(histogram["sum"], 22.5);
    assert_eq!(histogram["min"], 0.5);
    assert_eq!(histogram["max"], 12.0);
    assert_eq!(histogram["bounds"], json!([1.0, 5.0, 10.0]));
    assert_eq!(histogram["bucket_counts"], json!([1, 1, 1, 1]));
    assert!(histogram["start_time"].is_string());

    let temperature = metric(&lines, "dice.temperature");
    assert_eq!(temperature["type"], "gauge");
    assert!(temperature.get("temporality").is_none(), "gauges have none");
    assert_eq!(point(temperature, Some("ada"))["value"], 22.25);

    let spread = metric(&lines, "dice.spread");
    assert_eq!(spread["type"], "exponential_histogram");
    let summary = point(spread, None);
    assert_eq!(
        (
            &summary["count"],
            &summary["sum"],
            &summary["min"],
            &summary["max"]
        ),
        (&json!(2), &json!(8), &json!(2), &json!(6))
    );
    assert!(summary.get("bounds").is_none());

    // Cumulative: a second collection carries the first one's totals forward.
    let meter = fixture.provider.meter("lambda-otel-test");
    let rolls = meter
        .u64_counter("dice.rolls")
        .with_description("Dice rolled")
        .with_unit("{roll}")
        .build();
    rolls.add(4, &[KeyValue::new("dice.player", "ada")]);
    let lines = fixture.export();
    assert_eq!(lines.len(), 10);
    assert_eq!(
        point(metric(&lines, "dice.rolls"), Some("ada"))["value"],
        json!(9)
    );
}

#[test]
fn delta_reader_prints_delta_where_the_sdk_applies_it() {
    let fixture = Fixture::new(Temporality::Delta);
    assert_eq!(fixture.exporter.temporality(), Temporality::Delta);
    fixture.export();
    fixture.record();
    let lines = fixture.export();

    let rolls = metric(&lines, "dice.rolls");
    assert_eq!(rolls["temporality"], "delta");
    assert_eq!(
        point(rolls, Some("ada"))["value"],
        json!(5),
        "only this cycle"
    );
    let duration = metric(&lines, "dice.roll_duration");
    assert_eq!(duration["temporality"], "delta");
    assert_eq!(point(duration, Some("ada"))["count"], 4);
    // The SDK keeps up-down counters cumulative even for a delta reader.
    let in_hand = metric(&lines, "dice.in_hand");
    assert_eq!(in_hand["temporality"], "cumulative");
    assert_eq!(point(in_hand, Some("ada"))["value"], json!(6));
}

#[test]
fn line_has_fields_in_documented_order() {
    let fixture = Fixture::new(Temporality::Cumulative);
    fixture.export();
    let text = fixture.buf.text();
    let line = text
        .lines()
        .find(|line| line.contains(r#""name":"dice.roll_duration""#))
        .expect("histogram line");
    let order = [
        r#"{"name":"#,
        r#","description":"#,
        r#","unit":"ms","type":"histogram","temporality":"cumulative","data_points":[{"attributes":{"dice.player":"ada"},"start_time":"#,
        r#","time":"#,
        r#","count":4,"sum":22.5,"min":0.5,"max":12.0,"bounds":[1.0,5.0,10.0],"bucket_counts":[1,1,1,1]}],"#,
        r#""resource":{"cloud.provider":"aws","service.name":"dice-roller"},"scope":"lambda-otel-test"}"#,
    ];
    let mut rest = line;
    for part in order {
        let at = rest
            .find(part)
            .unwrap_or_else(|| panic!("{part} missing in order in {line}"));
        rest = &rest[at + part.len()..];
    }
    assert!(rest.is_empty(), "nothing after scope: {rest}");
}

/// The SDK drops non-finite measurements, so this is checked on the point itself.
#[test]
fn non_finite_values_print_null() {
    let point = ValuePoint {
        attributes: json!({}),
        start_time: None,
        time: Rfc3339(std::time::UNIX_EPOCH),
        value: f64::NEG_INFINITY,
    };
    assert_eq!(
        serde_json::to_string(&point).expect("serializes"),
        r#"{"attributes":{},"time":"1970-01-01T00:00:00.000000000Z","value":null}"#
    );
}

#[test]
fn failing_writer_and_shutdown_are_errors_not_panics() {
    let failing = ConsoleMetricExporter::with_writer(FailingWriter);
    let result = poll_once(failing.export(&ResourceMetrics::default()));
    assert!(matches!(result, Err(OTelSdkError::InternalFailure(m)) if m.contains("disk full")));
    assert!(failing.force_flush().is_err());

    let fixture = Fixture::new(Temporality::Cumulative);
    fixture.exporter.shutdown().expect("shutdown succeeds");
    let mut metrics = ResourceMetrics::default();
    fixture.reader.collect(&mut metrics).expect("collect");
    let result = poll_once(fixture.exporter.export(&metrics));
    assert!(matches!(result, Err(OTelSdkError::AlreadyShutdown)));
    assert!(fixture.buf.text().is_empty());
}

#[test]
fn defaults_and_debug() {
    let exporter = ConsoleMetricExporter::default();
    assert_eq!(exporter.temporality(), Temporality::Cumulative);
    let debug = format!("{:?}", ConsoleMetricExporter::with_writer(FailingWriter));
    assert!(debug.starts_with("ConsoleMetricExporter"), "{debug}");
    assert!(debug.contains("Cumulative"), "{debug}");
}
