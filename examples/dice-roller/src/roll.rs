//! The dice themselves, rolled inside their own `roll` span, counted and logged.

use std::sync::LazyLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use rand::Rng;
use tracing::field::Empty;

/// Faces on each die.
pub const SIDES: u8 = 6;

/// `dice.rolls`: every die rolled, by `roll.value`, as in the OpenTelemetry getting-started
/// guide's business metric. Made on first use, from the global meter provider that
/// `lambda_otel::Telemetry::from_env` installs in `main` before any request.
static ROLLS: LazyLock<Counter<u64>> = LazyLock::new(|| {
    opentelemetry::global::meter("dice-roller")
        .u64_counter("dice.rolls")
        .with_unit("{roll}")
        .with_description("The number of rolls by roll value")
        .build()
});

/// Rolls `count` six-sided dice.
///
/// The `roll` span carries `dice.player` (when there is one), `dice.rolls` and the outcome:
/// `dice.value` for a single die, `dice.values` (comma-separated) for several, so a trace
/// viewer shows the result without opening the response. Numbers are recorded as `i64`:
/// `tracing-opentelemetry` turns unsigned integers into strings, signed ones into integers.
#[tracing::instrument(
    name = "roll",
    skip_all,
    fields(
        dice.player = player,
        dice.rolls = i64::from(count),
        dice.value = Empty,
        dice.values = Empty
    )
)]
pub(crate) fn roll_dice<R: Rng + ?Sized>(rng: &mut R, player: Option<&str>, count: u8) -> Vec<u8> {
    let values: Vec<u8> = (0..count).map(|_| rng.random_range(1..=SIDES)).collect();
    record_outcome(player, &values);
    values
}

/// On the span, in the log ("Alice rolled 4", with the `roll` span's ids) and in `dice.rolls`.
fn record_outcome(player: Option<&str>, values: &[u8]) {
    let span = tracing::Span::current();
    let player = player.unwrap_or("Anonymous player");
    if let [value] = values {
        span.record("dice.value", i64::from(*value));
        tracing::info!(player, roll = i64::from(*value), "{player} rolled {value}");
    } else {
        let rolls = comma_separated(values);
        span.record("dice.values", rolls.as_str());
        tracing::info!(player, rolls = rolls.as_str(), "{player} rolled {rolls}");
    }
    for value in values {
        ROLLS.add(1, &[KeyValue::new("roll.value", i64::from(*value))]);
    }
}

fn comma_separated(values: &[u8]) -> String {
    values
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;
    use crate::test_support::capture;

    #[test]
    fn rolls_the_requested_number_of_six_sided_dice() {
        let mut rng = StdRng::seed_from_u64(7);
        for count in [1, 3, 100] {
            let values = roll_dice(&mut rng, None, count);
            assert_eq!(values.len(), usize::from(count));
            assert!(values.iter().all(|v| (1..=SIDES).contains(v)), "{values:?}");
        }
    }

    #[test]
    fn comma_separated_has_no_spaces() {
        assert_eq!(comma_separated(&[4, 1, 6]), "4,1,6");
    }

    #[test]
    fn span_of_a_single_roll_carries_the_value() {
        let (values, captured) =
            capture(|| roll_dice(&mut StdRng::seed_from_u64(1), Some("Alice"), 1));
        let [span] = captured.spans.as_slice() else {
            panic!("expected one span, got {captured:?}")
        };
        assert_eq!(span.name, "roll");
        let [log] = captured.logs()[..] else {
            panic!("expected one log event, got {captured:?}")
        };
        assert_eq!(
            log.field("message"),
            Some(format!("Alice rolled {}", values[0]).as_str())
        );
        assert_eq!(log.field("roll"), Some(values[0].to_string().as_str()));
        assert_eq!(span.field("dice.player"), Some("Alice"));
        assert_eq!(span.field("dice.rolls"), Some("1"));
        assert_eq!(
            span.field("dice.value"),
            Some(values[0].to_string().as_str())
        );
        assert_eq!(span.field("dice.values"), None);
    }

    #[test]
    fn span_of_several_rolls_carries_the_values_and_no_player_when_anonymous() {
        let (values, captured) = capture(|| roll_dice(&mut StdRng::seed_from_u64(2), None, 3));
        let [span] = captured.spans.as_slice() else {
            panic!("expected one span, got {captured:?}")
        };
        assert_eq!(span.field("dice.player"), None);
        assert_eq!(span.field("dice.rolls"), Some("3"));
        assert_eq!(
            span.field("dice.values"),
            Some(comma_separated(&values).as_str())
        );
        assert_eq!(span.field("dice.value"), None);
    }
}
