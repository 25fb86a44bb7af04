//! The query string of `GET /rolldice`: who rolls, and how many dice.

use std::fmt;

use lambda_http::aws_lambda_events::query_map::QueryMap;

/// Most dice one request may roll: keeps responses and span attributes small.
pub const MAX_ROLLS: u8 = 100;

/// Longest accepted player name, in characters: the name lands in a span attribute and in
/// the response, so an unbounded one would let any caller inflate both.
pub const MAX_PLAYER_CHARS: usize = 64;

/// A valid `/rolldice` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RollQuery<'a> {
    /// `player`, absent for an anonymous roll.
    pub(crate) player: Option<&'a str>,
    /// `rolls`, absent when the caller asked for the single-roll shape.
    pub(crate) rolls: Option<u8>,
}

/// Why a query was rejected; its `Display` is the message the caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueryError {
    /// `rolls` is not a whole number (or does not fit in one).
    RollsNotANumber(String),
    /// `rolls` is a number outside `1..=MAX_ROLLS`.
    RollsOutOfRange(u32),
    /// `player=` with nothing after it.
    PlayerEmpty,
    /// `player` is longer than `MAX_PLAYER_CHARS` characters.
    PlayerTooLong(usize),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RollsNotANumber(raw) => write!(
                f,
                "rolls must be a whole number from 1 to {MAX_ROLLS}, got {raw:?}"
            ),
            Self::RollsOutOfRange(n) => {
                write!(f, "rolls must be from 1 to {MAX_ROLLS}, got {n}")
            }
            Self::PlayerEmpty => write!(
                f,
                "player must not be empty: leave it out to roll anonymously"
            ),
            Self::PlayerTooLong(chars) => write!(
                f,
                "player must be at most {MAX_PLAYER_CHARS} characters, got {chars}"
            ),
        }
    }
}

impl<'a> RollQuery<'a> {
    /// Validates the query parameters; unknown ones are ignored, and of a repeated one only
    /// the first counts.
    pub(crate) fn parse(query: &'a QueryMap) -> Result<Self, QueryError> {
        Ok(Self {
            player: query.first("player").map(parse_player).transpose()?,
            rolls: query.first("rolls").map(parse_rolls).transpose()?,
        })
    }

    /// How many dice to roll.
    pub(crate) fn count(&self) -> u8 {
        self.rolls.unwrap_or(1)
    }
}

fn parse_player(raw: &str) -> Result<&str, QueryError> {
    // Characters, not bytes: a name in any script gets the same allowance.
    match raw.chars().count() {
        0 => Err(QueryError::PlayerEmpty),
        chars if chars > MAX_PLAYER_CHARS => Err(QueryError::PlayerTooLong(chars)),
        _ => Ok(raw),
    }
}

fn parse_rolls(raw: &str) -> Result<u8, QueryError> {
    let n: u32 = raw
        .parse()
        .map_err(|_| QueryError::RollsNotANumber(raw.to_owned()))?;
    match u8::try_from(n) {
        Ok(rolls @ 1..=MAX_ROLLS) => Ok(rolls),
        _ => Err(QueryError::RollsOutOfRange(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query parsed, owned so each test can compare it in one line.
    fn parse(query: &str) -> Result<(Option<String>, Option<u8>), QueryError> {
        let map: QueryMap = query.parse().expect("parsing a query map is infallible");
        RollQuery::parse(&map).map(|parsed| (parsed.player.map(str::to_owned), parsed.rolls))
    }

    #[test]
    fn empty_query_is_one_anonymous_roll() {
        assert_eq!(parse(""), Ok((None, None)));
        assert_eq!(
            RollQuery {
                player: None,
                rolls: None
            }
            .count(),
            1
        );
    }

    #[test]
    fn player_and_rolls_are_read() {
        assert_eq!(
            parse("player=Bob&rolls=3"),
            Ok((Some("Bob".into()), Some(3)))
        );
        assert_eq!(
            RollQuery {
                player: None,
                rolls: Some(3)
            }
            .count(),
            3
        );
    }

    #[test]
    fn rolls_bounds_are_inclusive() {
        assert_eq!(parse("rolls=1"), Ok((None, Some(1))));
        assert_eq!(parse("rolls=100"), Ok((None, Some(100))));
    }

    #[test]
    fn rolls_out_of_range_is_rejected() {
        assert_eq!(parse("rolls=0"), Err(QueryError::RollsOutOfRange(0)));
        assert_eq!(parse("rolls=101"), Err(QueryError::RollsOutOfRange(101)));
        assert_eq!(parse("rolls=256"), Err(QueryError::RollsOutOfRange(256)));
    }

    #[test]
    fn rolls_that_are_not_whole_numbers_are_rejected() {
        for raw in ["abc", "", "-1", "2.5", "99999999999"] {
            assert_eq!(
                parse(&format!("rolls={raw}")),
                Err(QueryError::RollsNotANumber(raw.to_owned())),
                "rolls={raw}"
            );
        }
    }

    #[test]
    fn player_length_is_counted_in_characters() {
        let longest = "é".repeat(MAX_PLAYER_CHARS);
        assert!(parse(&format!("player={longest}")).is_ok());
        let too_long = "é".repeat(MAX_PLAYER_CHARS + 1);
        assert_eq!(
            parse(&format!("player={too_long}")),
            Err(QueryError::PlayerTooLong(MAX_PLAYER_CHARS + 1))
        );
    }

    #[test]
    fn empty_player_is_rejected() {
        assert_eq!(parse("player="), Err(QueryError::PlayerEmpty));
    }

    #[test]
    fn first_of_a_repeated_parameter_wins() {
        assert_eq!(
            parse("player=Ann&player=Bea"),
            Ok((Some("Ann".into()), None))
        );
    }

    #[test]
    fn messages_name_the_parameter_and_the_bad_value() {
        assert_eq!(
            QueryError::RollsNotANumber("abc".into()).to_string(),
            "rolls must be a whole number from 1 to 100, got \"abc\""
        );
        assert_eq!(
            QueryError::RollsOutOfRange(0).to_string(),
            "rolls must be from 1 to 100, got 0"
        );
        assert_eq!(
            QueryError::PlayerTooLong(69).to_string(),
            "player must be at most 64 characters, got 69"
        );
    }
}
