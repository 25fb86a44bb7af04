//! What each kind of instrument writes, flush after flush.

use super::*;

#[test]
fn every_kind_of_instrument_on_the_line_of_its_dimensions() {
    let fixture = Fixture::new();
    let meter = fixture.meter();
    let rolls = meter.u64_counter("dice.rolls").with_unit("{roll}").build();
    rolls.add(1, &[KeyValue::new("roll.value", 4_i64)]);
    rolls.add(1, &[KeyValue::new("roll.value", 4_i64)]);
    rolls.add(1, &[KeyValue::new("roll.value", 6_i64)]);
    let ada = [KeyValue::new("dice.player", "ada")];
    let in_hand = meter.i64_up_down_counter("dice.in_hand").build();
    in_hand.add(5, &ada);
    in_hand.add(-2, &ada);
    let temperature = meter.f64_gauge("dice.temperature").with_unit("Cel").build();
    temperature.record(21.5, &ada);
    temperature.record(22.25, &ada);
    let duration = meter
        .f64_histogram("dice.roll_duration")
        .with_unit("ms")
        .with_boundaries(vec![1.0, 5.0, 10.0])
        .build();
    for value in [0.5, 3.0, 7.0, 12.0] {
        duration.record(value, &ada);
    }
    let weight = meter.f64_counter("dice.weight").with_unit("By").build();
    weight.add(0.75, &ada);

    let lines = fixture.export();
    assert_eq!(lines.len(), 3, "one line per dimension set: {lines:#?}");
    let fours = line(&lines, &["roll.value=4"]);
    assert_eq!(fours["dice.rolls"], json!(2), "integers stay integers");
    assert_eq!(unit(fours, "dice.rolls"), "Count");
    assert_eq!(line(&lines, &["roll.value=6"])["dice.rolls"], json!(1));

    let ada = line(&lines, &["dice.player=ada"]);
    assert_eq!(
        names(ada),
        [
            "dice.in_hand",
            "dice.roll_duration",
            "dice.temperature",
            "dice.weight"
        ],
        "one line for every metric of the set, by name"
    );
    assert_eq!(ada["dice.in_hand"], json!(3), "an up-down counter's level");
    assert_eq!(
        ada["dice.temperature"],
        json!(22.25),
        "a gauge's last value"
    );
    assert_eq!(ada["dice.weight"], json!(0.75));
    let durations = stand_ins(&lines, &["dice.player=ada"], "dice.roll_duration");
    assert_eq!(durations.len(), 4, "SampleCount");
    assert_close(durations.iter().sum(), 22.5);
    assert_eq!((durations[0], durations[3]), (0.5, 12.0), "min and max");
    let buckets = [(0.5, 1.0), (1.0, 5.0), (5.0, 10.0), (10.0, 12.0)];
    for (value, (lower, upper)) in durations.iter().zip(buckets) {
        assert!((lower..=upper).contains(value), "{value} in its bucket");
    }
    assert_eq!(unit(ada, "dice.roll_duration"), "Milliseconds");
    assert_eq!(unit(ada, "dice.temperature"), "None");
    assert_eq!(unit(ada, "dice.weight"), "Bytes");

    for line in &lines {
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Dice");
        for resource_attribute in ["faas.instance", "cloud.region", "service.name"] {
            assert!(line.get(resource_attribute).is_none(), "{line}");
        }
    }
}

#[test]
fn a_second_flush_carries_only_what_happened_since_the_first() {
    let fixture = Fixture::new();
    let meter = fixture.meter();
    let rolls = meter.u64_counter("dice.rolls").build();
    let in_hand = meter.i64_up_down_counter("dice.in_hand").build();
    let duration = meter.f64_histogram("dice.roll_duration").build();
    let (four, six) = (
        [KeyValue::new("roll.value", 4_i64)],
        [KeyValue::new("roll.value", 6_i64)],
    );
    rolls.add(2, &four);
    rolls.add(1, &six);
    in_hand.add(5, &[]);
    duration.record(3.0, &[]);
    let first = fixture.export();
    assert_eq!(first.len(), 3, "{first:#?}");

    rolls.add(1, &four);
    let second = fixture.export();
    assert_eq!(line(&second, &["roll.value=4"])["dice.rolls"], json!(1));
    assert!(
        second.iter().all(|l| l.get("dice.roll_duration").is_none()),
        "a histogram without recordings writes nothing: {second:#?}"
    );
    assert!(
        !second
            .iter()
            .any(|l| dimensions(l).contains(&"roll.value=6".to_owned())),
        "a counter that did not move writes nothing: {second:#?}"
    );
    // The SDK keeps up-down counters cumulative: the level is written again.
    assert_eq!(line(&second, &[])["dice.in_hand"], json!(5));

    in_hand.add(-5, &[]);
    rolls.add(0, &six);
    let third = fixture.export();
    assert_eq!(line(&third, &[])["dice.in_hand"], json!(0));
    assert_eq!(
        line(&third, &["roll.value=6"])["dice.rolls"],
        json!(0),
        "an explicit 0 is an observation"
    );
}

#[test]
fn nothing_to_write_writes_nothing() {
    let fixture = Fixture::new();
    assert!(fixture.export().is_empty(), "no instrument");
    let rolls = fixture.meter().u64_counter("dice.rolls").build();
    rolls.add(1, &[]);
    assert_eq!(fixture.export().len(), 1);
    assert!(
        fixture.export().is_empty(),
        "no change since the last flush"
    );
    let writes = fixture.captured.0.lock().expect("capture lock").len();
    assert_eq!(writes, 0, "not even an empty line");
}

#[test]
fn a_histogram_over_100_recordings_continues_on_more_lines() {
    let fixture = Fixture::new();
    let meter = fixture.meter();
    let duration = meter
        .f64_histogram("faas.invoke_duration")
        .with_unit("s")
        .build();
    let invocations = meter
        .u64_counter("faas.invocations")
        .with_unit("{invocation}")
        .build();
    let http = [KeyValue::new("faas.trigger", "http")];
    let recorded: Vec<f64> = (1..=250).map(|i| f64::from(i) / 1000.0).collect();
    for value in &recorded {
        duration.record(*value, &http);
        invocations.add(1, &http);
    }
    let lines = fixture.export();
    let counts: Vec<usize> = lines
        .iter()
        .map(|l| l["faas.invoke_duration"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(counts, [100, 100, 50]);
    assert_eq!(
        names(&lines[0]),
        ["faas.invocations", "faas.invoke_duration"]
    );
    assert_eq!(
        names(&lines[1]),
        ["faas.invoke_duration"],
        "the counter once"
    );
    assert_eq!(lines[0]["faas.invocations"], json!(250));
    let values = stand_ins(&lines, &["faas.trigger=http"], "faas.invoke_duration");
    assert_eq!(values.len(), 250);
    assert_close(values.iter().sum(), recorded.iter().sum());
    assert_eq!((values[0], values[249]), (0.001, 0.25));
    assert_eq!(unit(&lines[2], "faas.invoke_duration"), "Seconds");
}

#[test]
fn exponential_histograms_are_written_as_stand_ins_too() {
    let fixture = Fixture::new();
    let spread = fixture.meter().u64_histogram("dice.spread").build();
    let recorded = [1_u64, 2, 2, 3, 6, 6, 6, 40];
    for value in recorded {
        spread.record(value, &[]);
    }
    let lines = fixture.export();
    let values = stand_ins(&lines, &[], "dice.spread");
    assert_eq!(values.len(), recorded.len());
    assert_close(values.iter().sum(), 66.0);
    assert_eq!((values[0], values[7]), (1.0, 40.0));
    // 160 buckets for 1 to 40 give scale 4: a bucket spans a factor of 2^(1/16), under 4.5%,
    // and each stand-in lies in the bucket of the value of its rank.
    for (value, recorded) in values.iter().zip(recorded) {
        let recorded = recorded as f64;
        assert!(
            (value - recorded).abs() <= 0.045 * recorded,
            "{value} vs {recorded}"
        );
    }
}

#[test]
fn values_cloudwatch_refuses_are_left_out() {
    let fixture = Fixture::new();
    let meter = fixture.meter();
    meter.f64_counter("app.huge").build().add(1e200, &[]);
    meter
        .f64_histogram("app.huge_latency")
        .build()
        .record(1e150, &[]);
    meter.u64_counter("app.fine").build().add(1, &[]);
    let lines = fixture.export();
    let [line] = lines.as_slice() else {
        panic!("one line: {lines:#?}")
    };
    assert_eq!(names(line), ["app.fine"]);
}
