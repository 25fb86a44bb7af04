//! A line's timestamp: RFC 3339 in UTC with microseconds (`2026-11-21T10:00:00.123456Z`), the
//! format of tracing-subscriber's `SystemTime`, written without the formatting machinery:
//! every log line writes one, on the handler's path (a `perf` profile of the benchmark put
//! tracing-subscriber's at about 8 % of the dice roller's handler).

use std::time::{SystemTime, UNIX_EPOCH};

/// The length of a timestamp.
pub(super) const LEN: usize = 27;

/// `time` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC); a time before 1970 (a clock set far back) is
/// written as 1970's first microsecond.
pub(super) fn format(time: SystemTime) -> [u8; LEN] {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil(secs / 86_400);
    let of_day = secs % 86_400;
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    digits(&mut out[0..4], year);
    digits(&mut out[5..7], month);
    digits(&mut out[8..10], day);
    digits(&mut out[11..13], of_day / 3600);
    digits(&mut out[14..16], of_day / 60 % 60);
    digits(&mut out[17..19], of_day % 60);
    digits(&mut out[20..26], u64::from(since.subsec_micros()));
    out
}

/// Writes the last `out.len()` decimal digits of `n`, zero-padded.
fn digits(out: &mut [u8], mut n: u64) {
    for d in out.iter_mut().rev() {
        // `n % 10` is below 10.
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// The year, month and day of the `days`th day after 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::{FormatTime, SystemTime as Subscriber};

    fn at(secs: u64, micros: u32) -> String {
        let time = UNIX_EPOCH + Duration::new(secs, micros * 1000 + 999);
        String::from_utf8(format(time).to_vec()).expect("ASCII")
    }

    #[test]
    fn dates_and_times() {
        for (secs, micros, text) in [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_868_799, 999_999, "2000-02-29T23:59:59.999999Z"),
            (951_868_800, 1, "2000-03-01T00:00:00.000001Z"),
            (1_709_164_800, 0, "2024-02-29T00:00:00.000000Z"),
            (1_764_368_000, 123_456, "2025-11-28T22:13:20.123456Z"),
            (4_107_456_000, 0, "2100-02-28T00:00:00.000000Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00.000000Z"),
            (253_402_300_799, 0, "9999-12-31T23:59:59.000000Z"),
        ] {
            assert_eq!(at(secs, micros), text, "{secs}");
        }
        assert_eq!(
            String::from_utf8(format(UNIX_EPOCH - Duration::from_secs(1)).to_vec()),
            Ok("1970-01-01T00:00:00.000000Z".to_owned())
        );
    }

    /// The calendar, day by day from 1970 to 2200: each date follows the one before, and each
    /// month ends at its Gregorian length. Then the current time, to the minute, as
    /// tracing-subscriber writes it (it formats only the current time).
    #[test]
    fn every_day_to_2200_and_the_same_text_as_tracing_subscriber() {
        let mut previous = format(UNIX_EPOCH);
        for day in 1..(230 * 366) {
            let text = format(UNIX_EPOCH + Duration::from_secs(day * 86_400));
            let (y0, m0, d0) = parts(&previous);
            let (y, m, d) = parts(&text);
            let next = if d == d0 + 1 && m == m0 && y == y0 {
                true
            } else {
                d == 1 && ((m == m0 + 1 && y == y0) || (m == 1 && m0 == 12 && y == y0 + 1))
            };
            assert!(next, "{:?} after {:?}", text, previous);
            if d == 1 {
                // The month just ended had its length in the Gregorian calendar.
                assert_eq!(d0, month_len(y0, m0), "{y0}-{m0}");
            }
            previous = text;
        }
        // And now, against tracing-subscriber, to the minute (the two calls are microseconds
        // apart; a minute boundary between them is retried once).
        for attempt in 0..2 {
            let mut theirs = String::new();
            Subscriber
                .format_time(&mut Writer::new(&mut theirs))
                .expect("formats");
            let ours = format(std::time::SystemTime::now());
            if theirs.get(..16) == std::str::from_utf8(&ours[..16]).ok() || attempt == 1 {
                assert_eq!(theirs.len(), LEN);
                assert_eq!(theirs.get(..16), std::str::from_utf8(&ours[..16]).ok());
                // Checked: a second attempt could straddle the next minute.
                break;
            }
        }
    }

    fn parts(text: &[u8; LEN]) -> (u64, u64, u64) {
        let n = |r: std::ops::Range<usize>| {
            std::str::from_utf8(&text[r])
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("digits")
        };
        (n(0..4), n(5..7), n(8..10))
    }

    fn month_len(year: u64, month: u64) -> u64 {
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
}
