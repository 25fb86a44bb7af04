//! OpenTelemetry units (UCUM, as the semantic conventions write them) on CloudWatch's fixed list.
//!
//! CloudWatch only labels values with a unit, it never converts them, so a unit is mapped only
//! where the meaning is the same; everything else is `None`, which the specification assumes
//! for a metric without a unit.

/// What CloudWatch calls a metric without a unit.
pub(super) const NONE: &str = "None";

/// Amounts CloudWatch has a unit for, and the unit of their rate: the OpenTelemetry units
/// (decimal and binary prefixes alike: CloudWatch does not say which its `Kilo` is), the
/// CloudWatch unit and its per-second form.
const AMOUNTS: [(&[&str], &str, &str); 11] = [
    (&["By"], "Bytes", "Bytes/Second"),
    (&["kBy", "KiBy"], "Kilobytes", "Kilobytes/Second"),
    (&["MBy", "MiBy"], "Megabytes", "Megabytes/Second"),
    (&["GBy", "GiBy"], "Gigabytes", "Gigabytes/Second"),
    (&["TBy", "TiBy"], "Terabytes", "Terabytes/Second"),
    (&["bit"], "Bits", "Bits/Second"),
    (&["kbit", "Kibit"], "Kilobits", "Kilobits/Second"),
    (&["Mbit", "Mibit"], "Megabits", "Megabits/Second"),
    (&["Gbit", "Gibit"], "Gigabits", "Gigabits/Second"),
    (&["Tbit", "Tibit"], "Terabits", "Terabits/Second"),
    // A count of things is an annotation in braces (`{roll}`, `{invocation}`).
    (&[], "Count", "Count/Second"),
];

/// The CloudWatch unit of an instrument's unit; [`NONE`] when CloudWatch has no equivalent
/// (`ns`, `min`, `Cel`, ...) or the unit is `1`, which the semantic conventions use for
/// ratios (utilization), not for counts.
pub(super) fn cloudwatch_unit(unit: &str) -> &'static str {
    match unit {
        "s" => "Seconds",
        "ms" => "Milliseconds",
        "us" => "Microseconds",
        "%" => "Percent",
        // Events per second: `1/s` is the UCUM rate of a dimensionless count.
        "1/s" => "Count/Second",
        _ => match unit.strip_suffix("/s") {
            Some(amount) => lookup(amount).map_or(NONE, |(_, per_second)| per_second),
            None => lookup(unit).map_or(NONE, |(unit, _)| unit),
        },
    }
}

fn lookup(unit: &str) -> Option<(&'static str, &'static str)> {
    let is_count = unit.len() > 2
        && unit.starts_with('{')
        && unit.ends_with('}')
        && !unit[1..unit.len() - 1].contains(['{', '}']);
    AMOUNTS
        .iter()
        .find(|(names, cloudwatch, _)| {
            names.contains(&unit) || (is_count && *cloudwatch == "Count")
        })
        .map(|(_, unit, per_second)| (*unit, *per_second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_map_onto_cloudwatch_names() {
        let cases = [
            ("s", "Seconds"),
            ("ms", "Milliseconds"),
            ("us", "Microseconds"),
            ("By", "Bytes"),
            ("KiBy", "Kilobytes"),
            ("MBy", "Megabytes"),
            ("GiBy", "Gigabytes"),
            ("TBy", "Terabytes"),
            ("bit", "Bits"),
            ("Mbit", "Megabits"),
            ("%", "Percent"),
            ("{roll}", "Count"),
            ("{invocation}", "Count"),
            ("By/s", "Bytes/Second"),
            ("Gbit/s", "Gigabits/Second"),
            ("{request}/s", "Count/Second"),
            ("1/s", "Count/Second"),
            // No CloudWatch equivalent: labelled as having no unit.
            ("1", NONE),
            ("", NONE),
            ("ns", NONE),
            ("min", NONE),
            ("Cel", NONE),
            ("{}", NONE),
            ("{a}{b}", NONE),
            ("m/s", NONE),
            ("s/s", NONE),
        ];
        for (otel, cloudwatch) in cases {
            assert_eq!(cloudwatch_unit(otel), cloudwatch, "{otel:?}");
        }
    }
}
