//! The writer, errors, shutdown, and the checker itself.

use super::*;

#[test]
fn a_failing_writer_is_an_error_not_a_panic() {
    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("stdout closed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::other("stdout closed"))
        }
    }
    let fixture = Fixture::new();
    fixture
        .meter()
        .u64_counter("dice.rolls")
        .build()
        .add(1, &[]);
    let mut metrics = ResourceMetrics::default();
    fixture.reader.collect(&mut metrics).expect("collect");
    let exporter = EmfExporter::with_writer("Dice".to_owned(), Failing);
    let result = poll_once(exporter.export(&metrics));
    assert!(
        matches!(&result, Err(OTelSdkError::InternalFailure(m)) if m.contains("stdout closed")),
        "{result:?}"
    );
    assert!(exporter.force_flush().is_err());
}

#[test]
fn after_shutdown_exports_are_refused() {
    let fixture = Fixture::new();
    fixture.exporter.shutdown().expect("shutdown flushes");
    fixture
        .meter()
        .u64_counter("dice.rolls")
        .build()
        .add(1, &[]);
    let mut metrics = ResourceMetrics::default();
    fixture.reader.collect(&mut metrics).expect("collect");
    let result = poll_once(fixture.exporter.export(&metrics));
    assert!(matches!(result, Err(OTelSdkError::AlreadyShutdown)));
    assert!(fixture.captured.take().is_empty());
}

/// Lambda reads a JSON line without a level as `INFO`, and drops it when the application log
/// level is above: every line carries the level it is given, `INFO` by default.
#[test]
fn every_line_carries_the_level_lambda_keeps() {
    let mut fixture = Fixture::new();
    let rolls = fixture.meter().u64_counter("dice.rolls").build();
    rolls.add(1, &[]);
    let lines = fixture.export();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["level"] == "INFO"), "{lines:?}");

    rolls.add(1, &[]);
    fixture.exporter =
        EmfExporter::with_writer("Dice".to_owned(), fixture.captured.clone()).with_level("WARN");
    let lines = fixture.export();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["level"] == "WARN"), "{lines:?}");
}

/// `level` is the line's: an attribute of that name is no dimension, an instrument of that
/// name no metric.
#[test]
fn an_attribute_or_an_instrument_named_level_is_left_out() {
    let fixture = Fixture::new();
    let meter = fixture.meter();
    meter.u64_counter("dice.rolls").build().add(
        1,
        &[
            KeyValue::new("level", "hard"),
            KeyValue::new("player", "Ada"),
        ],
    );
    meter.u64_counter("level").build().add(7, &[]);
    let lines = fixture.export();
    let rolls = line(&lines, &["player=Ada"]);
    assert_eq!(names(rolls), ["dice.rolls"]);
    assert_eq!(rolls["level"], "INFO");
    assert!(
        lines.iter().all(|l| !names(l).contains(&"level")),
        "{lines:?}"
    );
}

#[test]
fn asks_for_deltas_and_debugs_without_its_writer() {
    let exporter = EmfExporter::new("Dice".to_owned());
    assert_eq!(exporter.temporality(), Temporality::Delta);
    let debug = format!("{exporter:?}");
    assert!(debug.starts_with("EmfExporter"), "{debug}");
    assert!(debug.contains("\"Dice\""), "{debug}");
}

/// The checker must be able to fail: each of these breaks one rule of the specification.
#[test]
fn the_checker_passes_the_specifications_example_and_fails_each_broken_rule() {
    const VALID: &str = r#"{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"lambda-function-metrics","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds","StorageResolution":60}]}]},"functionVersion":"$LATEST","time":100,"requestId":"989ffbf8-9ace-4817-a57c-e4dd734019ee"}"#;
    spec::check(VALID).expect("the specification's own example");
    let broken = [
        (
            "\"Timestamp\":1574109732004",
            "\"Timestamp\":1574109732004.5",
        ),
        ("\"Timestamp\":1574109732004,", ""),
        (
            "\"Namespace\":\"lambda-function-metrics\"",
            "\"Namespace\":\"\"",
        ),
        ("[[\"functionVersion\"]]", "[]"),
        ("[[\"functionVersion\"]]", "[[\"missing\"]]"),
        ("\"functionVersion\":\"$LATEST\"", "\"functionVersion\":7"),
        (
            "\"functionVersion\":\"$LATEST\"",
            "\"functionVersion\":\"\"",
        ),
        ("\"time\":100", "\"time\":\"100\""),
        ("\"time\":100", "\"time\":[]"),
        ("\"time\":100", "\"time\":1e200"),
        ("\"Unit\":\"Milliseconds\"", "\"Unit\":\"ms\""),
        ("\"StorageResolution\":60", "\"StorageResolution\":30"),
        ("\"Name\":\"time\"", "\"Name\":\"time\",\"Extra\":1"),
        ("\"time\":100", "\"time\":100,\"time\":100"),
    ];
    for (from, to) in broken {
        let line = VALID.replacen(from, to, 1);
        assert!(spec::check(&line).is_err(), "{line} passed");
    }
    let thirty_one: Vec<String> = (0..31).map(|i| format!("d{i}")).collect();
    let mut document: Json = serde_json::from_str(VALID).expect("valid JSON");
    for name in &thirty_one {
        document[name] = Json::from("v");
    }
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = serde_json::json!([thirty_one]);
    assert!(spec::check(&document.to_string()).is_err(), "31 dimensions");
    let values: Vec<u32> = (0..101).collect();
    document = serde_json::from_str(VALID).expect("valid JSON");
    document["time"] = serde_json::json!(values);
    assert!(spec::check(&document.to_string()).is_err(), "101 values");
}
