//! A strict check of one line against CloudWatch's EMF specification, shared by the unit tests
//! and the integration test (`tests/common/emf.rs` includes this file), so both hold the
//! exporter to the same reading of the specification.
//!
//! It checks what the specification and its JSON schema say (the `_aws` metadata, one or more
//! directives, at most 100 metric definitions, dimension sets of at most 30 keys, every
//! referenced name a member of the root with a value of the right type, arrays of at most 100
//! numbers, units from CloudWatch's list), CloudWatch's API rules for names and values, and
//! RFC 8259's advice that names within an object be unique.
// Shared with tests/emf.rs (`#[path]`), where these are the module's public items.
#![allow(unreachable_pub)]

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The units a MetricDefinition may name (the schema's pattern).
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// 2^360: CloudWatch refuses values beyond it.
const VALUE_LIMIT: f64 = 2.348_542_582_773_833e108;

/// Parses `line` and checks it; the parsed document, or what is wrong with it.
pub fn check(line: &str) -> Result<Value, String> {
    if line.contains(['\n', '\r']) {
        return Err("a line break inside the line".to_owned());
    }
    // A CloudWatch Logs event, the most an EMF document can be (256 KB before 2024).
    if line.len() > 256 * 1024 {
        return Err(format!("{} bytes", line.len()));
    }
    let mut deserializer = serde_json::Deserializer::from_str(line);
    UniqueNames
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|e| format!("not one JSON value with unique names: {e}"))?;
    let document: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let root = document.as_object().ok_or("the root is not an object")?;
    let metadata = object(root.get("_aws"), "_aws")?;
    only(metadata, &["Timestamp", "CloudWatchMetrics"], "_aws")?;
    if !metadata.get("Timestamp").is_some_and(Value::is_u64) {
        return Err("Timestamp is not an integer of milliseconds".to_owned());
    }
    let directives = array(metadata.get("CloudWatchMetrics"), "CloudWatchMetrics")?;
    if directives.is_empty() {
        return Err("no MetricDirective".to_owned());
    }
    for directive in directives {
        check_directive(root, object(Some(directive), "a MetricDirective")?)?;
    }
    Ok(document)
}

fn check_directive(
    root: &Map<String, Value>,
    directive: &Map<String, Value>,
) -> Result<(), String> {
    only(
        directive,
        &["Namespace", "Dimensions", "Metrics"],
        "a MetricDirective",
    )?;
    let namespace = string(directive.get("Namespace"), "Namespace")?;
    if !(1..=255).contains(&namespace.len()) || namespace.starts_with("AWS/") {
        return Err(format!("namespace {namespace:?}"));
    }
    let sets = array(directive.get("Dimensions"), "Dimensions")?;
    if sets.is_empty() {
        return Err("Dimensions has no DimensionSet".to_owned());
    }
    let mut dimensions = HashSet::new();
    for set in sets {
        let set = array(Some(set), "a DimensionSet")?;
        if set.len() > 30 {
            return Err(format!("{} dimensions in a set", set.len()));
        }
        for name in set {
            let name = string(Some(name), "a dimension name")?;
            check_dimension(root, name)?;
            dimensions.insert(name);
        }
    }
    let definitions = array(directive.get("Metrics"), "Metrics")?;
    if !(1..=100).contains(&definitions.len()) {
        return Err(format!("{} MetricDefinitions", definitions.len()));
    }
    let mut names = HashSet::new();
    for definition in definitions {
        let definition = object(Some(definition), "a MetricDefinition")?;
        only(
            definition,
            &["Name", "Unit", "StorageResolution"],
            "a MetricDefinition",
        )?;
        let name = string(definition.get("Name"), "Name")?;
        if !names.insert(name) || dimensions.contains(name) {
            return Err(format!("{name:?} defined twice"));
        }
        if !(1..=255).contains(&name.len()) {
            return Err(format!("metric name of {} characters", name.len()));
        }
        if let Some(unit) = definition.get("Unit") {
            let unit = string(Some(unit), "Unit")?;
            if !UNITS.contains(&unit) {
                return Err(format!("unit {unit:?}"));
            }
        }
        if let Some(resolution) = definition.get("StorageResolution")
            && resolution.as_u64() != Some(1)
            && resolution.as_u64() != Some(60)
        {
            return Err(format!("StorageResolution {resolution}"));
        }
        check_metric(root.get(name), name)?;
    }
    Ok(())
}

/// A dimension: CloudWatch's rules for its name, and a target member holding a string.
fn check_dimension(root: &Map<String, Value>, name: &str) -> Result<(), String> {
    if !(1..=250).contains(&name.len()) || !printable(name) || name.starts_with(':') {
        return Err(format!("dimension name {name:?}"));
    }
    let value = string(root.get(name), &format!("the dimension {name:?}"))?;
    if !(1..=1024).contains(&value.len()) || !printable(value) {
        return Err(format!("dimension {name:?} = {value:?}"));
    }
    Ok(())
}

/// A metric target: a number, or an array of 1 to 100 numbers, all within CloudWatch's range.
fn check_metric(target: Option<&Value>, name: &str) -> Result<(), String> {
    let number = |value: &Value| {
        value
            .as_f64()
            .is_some_and(|v| v.is_finite() && v.abs() <= VALUE_LIMIT)
    };
    match target {
        Some(value) if number(value) => Ok(()),
        Some(Value::Array(values))
            if (1..=100).contains(&values.len()) && values.iter().all(number) =>
        {
            Ok(())
        }
        other => Err(format!("metric {name:?} = {other:?}")),
    }
}

/// Printable ASCII, not only spaces (CloudWatch's rule for dimension names and values).
fn printable(text: &str) -> bool {
    text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && text.bytes().any(|b| b != b' ')
}

fn only(object: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(format!("{what} has the member {extra:?}")),
        None => Ok(()),
    }
}

fn object<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{what} is not an object"))
}

fn array<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Vec<Value>, String> {
    value
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{what} is not an array"))
}

fn string<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a str, String> {
    value
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what} is not a string"))
}

/// Walks any JSON value, failing on an object that has a name twice (`serde_json::Value`
/// would silently keep the last).
struct UniqueNames;

impl<'de> DeserializeSeed<'de> for UniqueNames {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueNames {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueNames)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut names = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !names.insert(name.clone()) {
                return Err(de::Error::custom(format!("the name {name:?} twice")));
            }
            map.next_value_seed(UniqueNames)?;
        }
        Ok(())
    }
}
