//! Writers and helpers shared by the console exporters' tests.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

/// 2026-11-21T20:28:54.123456789Z as nanoseconds since the Unix epoch.
pub(super) const SAMPLE_NANOS: u64 = 1_795_292_934_123_456_789;

pub(super) fn at(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A writer whose output the test keeps a handle on after the exporter took it.
#[derive(Clone, Default)]
pub(super) struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub(super) fn text(&self) -> String {
        let bytes = self.0.lock().expect("buffer lock").clone();
        String::from_utf8(bytes).expect("utf-8 output")
    }

    pub(super) fn lines(&self) -> Vec<Json> {
        let text = self.text();
        assert!(text.ends_with('\n'), "every line ends with a newline");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) struct FailingWriter;

impl Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::other("disk full"))
    }
}

/// The console exporters' futures resolve immediately, so polling once is enough.
pub(super) fn poll_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("console export never waits"),
    }
}

/// Inverse of `civil_from_days` (Hinnant's `days_from_civil`), used only to
/// check that printed timestamps parse back to the same instant.
pub(super) fn parse_rfc3339(text: &str) -> SystemTime {
    let field = |range: std::ops::Range<usize>| -> i64 {
        text[range].parse().expect("numeric timestamp field")
    };
    assert_eq!(text.len(), 30, "fixed-width timestamp: {text}");
    assert!(text.ends_with('Z'));
    let (year, month, day) = (field(0..4), field(5..7), field(8..10));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let secs = days * 86_400 + field(11..13) * 3_600 + field(14..16) * 60 + field(17..19);
    let nanos = u32::try_from(field(20..29)).expect("nanos fit u32");
    let secs = u64::try_from(secs).expect("test times are after 1970");
    UNIX_EPOCH + Duration::new(secs, nanos)
}
