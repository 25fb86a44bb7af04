//! The specification's limits and the dimension rules, on real collections.

use super::*;

#[test]
fn over_100_metrics_of_one_set_continue_on_more_lines() {
    let fixture = Fixture::new();
    let meter = fixture.meter();
    for i in 0..250 {
        meter
            .u64_counter(format!("app.counter_{i:03}"))
            .build()
            .add(i, &[KeyValue::new("app.kind", "bulk")]);
    }
    let lines = fixture.export();
    let sizes: Vec<usize> = lines.iter().map(|l| names(l).len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let mut seen: Vec<&str> = lines.iter().flat_map(names).collect();
    let expected: Vec<String> = (0..250).map(|i| format!("app.counter_{i:03}")).collect();
    assert_eq!(seen, expected, "each once, in order");
    seen.dedup();
    assert_eq!(seen.len(), 250);
    for line in &lines {
        assert_eq!(dimensions(line), ["service=dice-roller", "app.kind=bulk"]);
    }
    assert_eq!(lines[2]["app.counter_249"], json!(249));
}

#[test]
fn over_30_attributes_keep_service_and_the_first_29_names() {
    let fixture = Fixture::new();
    let attributes: Vec<KeyValue> = (0..40)
        .map(|i| KeyValue::new(format!("attr.{i:02}"), i64::from(i)))
        .collect();
    fixture
        .meter()
        .u64_counter("dice.rolls")
        .build()
        .add(1, &attributes);
    let lines = fixture.export();
    let [line] = lines.as_slice() else {
        panic!("one line: {lines:#?}")
    };
    let mut expected = vec!["service=dice-roller".to_owned()];
    expected.extend((0..29).map(|i| format!("attr.{i:02}={i}")));
    assert_eq!(dimensions(line), expected);
    assert!(line.get("attr.29").is_none(), "dropped, not left behind");
}

#[test]
fn only_short_low_cardinality_values_become_dimensions() {
    let fixture = Fixture::new();
    let longest = "v".repeat(dimensions::MAX_VALUE_LEN);
    let attributes = [
        KeyValue::new("http.route", "/rolldice"),
        KeyValue::new("dice.loaded", true),
        KeyValue::new(
            "url.full",
            format!("https://example.com/{}", "x".repeat(300)),
        ),
        KeyValue::new("dice.weight", 1.5),
        KeyValue::new("dice.player", "Zoë"),
        KeyValue::new("dice.label", longest.clone()),
        KeyValue::new("dice.rolls", "own name"),
    ];
    fixture
        .meter()
        .u64_counter("dice.rolls")
        .build()
        .add(1, &attributes);
    let lines = fixture.export();
    let expected = [
        "dice.label=".to_owned() + &longest,
        "dice.loaded=true".to_owned(),
        "http.route=/rolldice".to_owned(),
    ];
    line(
        &lines,
        &expected.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(
        lines[0]["dice.rolls"],
        json!(1),
        "the metric keeps its name"
    );
}

#[test]
fn two_meters_with_one_instrument_name_write_two_lines() {
    let fixture = Fixture::new();
    for (meter, n) in [("first", 1), ("second", 2)] {
        fixture
            .provider
            .meter(meter)
            .u64_counter("app.orders")
            .build()
            .add(n, &[]);
    }
    let lines = fixture.export();
    let mut values: Vec<u64> = lines
        .iter()
        .map(|l| l["app.orders"].as_u64().expect("one value per line"))
        .collect();
    values.sort_unstable();
    assert_eq!(values, [1, 2]);
}

#[test]
fn lines_come_in_a_stable_order() {
    let fixture = Fixture::new();
    let rolls = fixture.meter().u64_counter("dice.rolls").build();
    for value in [5_i64, 2, 6, 1, 3, 4] {
        rolls.add(1, &[KeyValue::new("roll.value", value)]);
    }
    fixture
        .meter()
        .u64_counter("dice.games")
        .build()
        .add(1, &[]);
    let order: Vec<Vec<String>> = fixture.export().iter().map(dimensions).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order[0], ["service=dice-roller"]);
}
