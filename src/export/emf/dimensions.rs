//! Which attributes become CloudWatch dimensions, and the rules their names and values follow.

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::resource::SERVICE_NAME;

/// The dimension carrying the resource's `service.name`, named as Lambda Powertools names it.
pub(super) const SERVICE: &str = "service";
/// The member of the metadata object: no dimension may take its place.
pub(super) const AWS: &str = "_aws";
/// The member Lambda reads a JSON line's log level from (see `EmfExporter`).
pub(super) const LEVEL: &str = "level";
/// The line's own members besides the dimension `service`: no dimension or metric may take
/// their place.
pub(super) const RESERVED: [&str; 2] = [AWS, LEVEL];
/// Dimensions in one set: the specification's limit (a DimensionSet MUST NOT contain more).
pub(super) const MAX_DIMENSIONS: usize = 30;
/// The longest dimension name: the specification's schema (`DimensionReference`) allows 250
/// characters, CloudWatch's API 255.
const MAX_NAME_LEN: usize = 250;
/// The longest string value kept as a dimension. The specification allows 1,024 characters; a
/// longer string than this is almost always an id, a URL or a message, and every distinct
/// value is another custom metric on the bill.
pub(super) const MAX_VALUE_LEN: usize = 256;

/// A dimension's value: CloudWatch wants a string, written from these without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum DimensionValue<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
}

impl<'a> DimensionValue<'a> {
    /// Only values with few distinct values qualify: floats are measurements, arrays have no
    /// single value, and strings must be what CloudWatch accepts.
    fn of(value: &'a Value) -> Option<Self> {
        match value {
            Value::String(s) => valid_value(s.as_str()).then(|| Self::Str(s.as_str())),
            Value::I64(i) => Some(Self::Int(*i)),
            Value::Bool(b) => Some(Self::Bool(*b)),
            _ => None,
        }
    }
}

/// One dimension: its name is a member of the line's root with the value as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Dimension<'a> {
    pub name: &'a str,
    pub value: DimensionValue<'a>,
}

/// Picks the dimensions of data points: the service dimension first, then the point's
/// qualifying attributes sorted by name, at most [`MAX_DIMENSIONS`] in all.
#[derive(Debug)]
pub(super) struct Dimensions<'a> {
    service: Option<Dimension<'a>>,
    /// The point's attributes, sorted: reused from one point to the next.
    sorted: Vec<&'a KeyValue>,
}

impl<'a> Dimensions<'a> {
    /// Resource attributes are never dimensions (`faas.instance` differs in every execution
    /// environment, so each would be another metric); only `service.name` is, as `service`.
    pub(super) fn new(resource: &'a Resource) -> Self {
        let service = resource
            .get_ref(&SERVICE_NAME.into())
            .and_then(DimensionValue::of)
            .map(|value| Dimension {
                name: SERVICE,
                value,
            });
        Self {
            service,
            sorted: Vec::new(),
        }
    }

    /// Appends the dimensions of a point of the metric `metric` to `out`.
    ///
    /// Dropped: attributes whose value does not qualify, names CloudWatch refuses, and names
    /// already taken on the line (`_aws`, `level`, `service`, the metric's own name: a member
    /// cannot be both the metric's number and a dimension's string). Past the limit, the names
    /// that sort last are dropped, so the same attributes always give the same dimensions.
    pub(super) fn of_point(
        &mut self,
        metric: &str,
        attributes: impl Iterator<Item = &'a KeyValue>,
        out: &mut Vec<Dimension<'a>>,
    ) {
        let start = out.len();
        if let Some(service) = self.service.filter(|_| metric != SERVICE) {
            out.push(service);
        }
        self.sorted.clear();
        self.sorted.extend(attributes);
        sort_last_wins(&mut self.sorted);
        for kv in &self.sorted {
            if out.len() - start == MAX_DIMENSIONS {
                break;
            }
            let name = kv.key.as_str();
            if name == metric || name == SERVICE || RESERVED.contains(&name) || !valid_name(name) {
                continue;
            }
            if let Some(value) = DimensionValue::of(&kv.value) {
                out.push(Dimension { name, value });
            }
        }
    }
}

/// Sorts attributes by key and keeps the last of equal keys, as an attribute set would. The
/// SDK hands them out deduplicated, but not always sorted.
fn sort_last_wins(attributes: &mut Vec<&KeyValue>) {
    if attributes.windows(2).all(|pair| pair[0].key < pair[1].key) {
        return;
    }
    // Stable: equal keys stay in recording order, so the retained one is the last recorded.
    attributes.sort_by(|a, b| a.key.cmp(&b.key));
    attributes.dedup_by(|later, earlier| {
        let same = later.key == earlier.key;
        if same {
            *earlier = *later;
        }
        same
    });
}

/// CloudWatch's rules for a dimension name: 1 to 250 ASCII characters, no control character,
/// not only spaces, not starting with `:`.
pub(super) fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len()) && printable(name) && !name.starts_with(':')
}

/// CloudWatch's rules for a dimension value (ASCII, no control character, not only spaces),
/// within [`MAX_VALUE_LEN`].
fn valid_value(value: &str) -> bool {
    (1..=MAX_VALUE_LEN).contains(&value.len()) && printable(value)
}

/// Printable ASCII with at least one character that is not a space.
pub(super) fn printable(text: &str) -> bool {
    text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && text.bytes().any(|b| b != b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(metric: &str, attributes: &[KeyValue]) -> Vec<(String, String)> {
        let resource = Resource::builder_empty()
            .with_service_name("dice-roller")
            .with_attribute(KeyValue::new("faas.instance", "2026/11/21/[$LATEST]abc"))
            .build();
        let mut dimensions = Dimensions::new(&resource);
        let mut out = Vec::new();
        dimensions.of_point(metric, attributes.iter(), &mut out);
        out.iter()
            .map(|d| {
                let value = match d.value {
                    DimensionValue::Str(s) => s.to_owned(),
                    DimensionValue::Int(i) => i.to_string(),
                    DimensionValue::Bool(b) => b.to_string(),
                };
                (d.name.to_owned(), value)
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn service_first_then_qualifying_attributes_by_name() {
        let attributes = [
            KeyValue::new("roll.value", 4_i64),
            KeyValue::new("dice.player", "Alice"),
            KeyValue::new("dice.loaded", false),
            KeyValue::new("dice.weight", 1.5),
            KeyValue::new(
                "dice.faces",
                Value::Array(opentelemetry::Array::I64(vec![1, 2])),
            ),
        ];
        assert_eq!(
            pick("dice.rolls", &attributes),
            pairs(&[
                ("service", "dice-roller"),
                ("dice.loaded", "false"),
                ("dice.player", "Alice"),
                ("roll.value", "4"),
            ])
        );
    }

    #[test]
    fn values_and_names_cloudwatch_refuses_are_dropped() {
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        let longest = "y".repeat(MAX_VALUE_LEN);
        let long_name = "n".repeat(MAX_NAME_LEN + 1);
        let attributes = [
            KeyValue::new("empty", ""),
            KeyValue::new("spaces", "   "),
            KeyValue::new("accented", "Zoë"),
            KeyValue::new("tab", "a\tb"),
            KeyValue::new("long", long),
            KeyValue::new("longest", longest.clone()),
            KeyValue::new(long_name, "v"),
            KeyValue::new(":colon", "v"),
            KeyValue::new(" ", "v"),
            KeyValue::new("_aws", "v"),
            KeyValue::new("service", "other"),
            KeyValue::new("dice.rolls", "own name"),
            KeyValue::new("ok", "a b"),
        ];
        assert_eq!(
            pick("dice.rolls", &attributes),
            pairs(&[
                ("service", "dice-roller"),
                ("longest", &longest),
                ("ok", "a b")
            ])
        );
    }

    #[test]
    fn a_metric_named_service_has_no_service_dimension() {
        assert_eq!(
            pick("service", &[KeyValue::new("a", "b")]),
            pairs(&[("a", "b")])
        );
    }

    #[test]
    fn at_most_thirty_keeping_the_names_that_sort_first() {
        let attributes: Vec<KeyValue> = (0..40)
            .rev()
            .map(|i| KeyValue::new(format!("k{i:02}"), i64::from(i)))
            .collect();
        let picked = pick("m", &attributes);
        assert_eq!(picked.len(), MAX_DIMENSIONS);
        assert_eq!(picked[0].0, "service");
        let names: Vec<&str> = picked[1..].iter().map(|(k, _)| k.as_str()).collect();
        let expected: Vec<String> = (0..29).map(|i| format!("k{i:02}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn the_last_of_equal_keys_wins() {
        let attributes = [
            KeyValue::new("b", "first"),
            KeyValue::new("a", "x"),
            KeyValue::new("b", "second"),
        ];
        assert_eq!(
            pick("m", &attributes),
            pairs(&[("service", "dice-roller"), ("a", "x"), ("b", "second")])
        );
        // The last one decides even when it does not qualify.
        let attributes = [KeyValue::new("b", "first"), KeyValue::new("b", 2.5)];
        assert_eq!(pick("m", &attributes), pairs(&[("service", "dice-roller")]));
    }

    #[test]
    fn no_service_dimension_when_the_name_does_not_qualify() {
        let resource = Resource::builder_empty()
            .with_service_name("Zoë's dice")
            .build();
        let mut out = Vec::new();
        Dimensions::new(&resource).of_point("m", [].iter(), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
