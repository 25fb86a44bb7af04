//! The line the stage-marked dice roller (`bin/stages.rs`) writes on stdout after its last
//! measured invocation, and the runner reads (`run.rs`): what each stage of an invocation took,
//! summed over the measured invocations. Shared by both through `#[path]`, so they cannot drift.

/// The stages, in order: the names of the table's columns.
#[allow(dead_code, reason = "the runner's half; the binary only writes")]
pub const STAGES: [&str; 5] = [
    "event read",
    "to the handler",
    "handler",
    "response posted",
    "after the response",
];

/// What the line starts with.
pub const PREFIX: &str = "lambda-otel-bench stages:";

/// The line: the measured invocations, then each stage's total in nanoseconds.
#[allow(dead_code, reason = "the binary's half; the runner only reads")]
pub fn format(measured: u64, totals: &[u64; 5]) -> String {
    let totals: Vec<String> = totals.iter().map(u64::to_string).collect();
    format!("{PREFIX} {measured} {}", totals.join(" "))
}

/// The measured invocations and each stage's total in nanoseconds, from a line [`format()`]
/// wrote; `None` for any other line.
#[allow(dead_code, reason = "the runner's half; the binary only writes")]
pub fn parse(line: &str) -> Option<(u64, [u64; 5])> {
    let mut numbers = line
        .strip_prefix(PREFIX)?
        .split_ascii_whitespace()
        .map(|n| n.parse::<u64>().ok());
    let measured = numbers.next()??;
    let mut totals = [0; 5];
    for total in &mut totals {
        *total = numbers.next()??;
    }
    numbers.next().is_none().then_some((measured, totals))
}

#[cfg(test)]
mod tests {
    use super::{PREFIX, format, parse};

    #[test]
    fn a_line_reads_back_and_nothing_else_does() {
        let totals = [1, 22, 333, 4_444, u64::MAX];
        assert_eq!(parse(&format(1000, &totals)), Some((1000, totals)));
        assert_eq!(
            parse(r#"{"level":"INFO","message":"Alice rolled 4"}"#),
            None
        );
        assert_eq!(
            parse(&format!("{PREFIX} 1000 1 2 3 4")),
            None,
            "a stage missing"
        );
        assert_eq!(
            parse(&format!("{PREFIX} 1000 1 2 3 4 5 6")),
            None,
            "one too many"
        );
        assert_eq!(parse(&format!("{PREFIX} 1000 1 2 x 4 5")), None);
    }
}
