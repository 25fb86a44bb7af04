//! The exporters: finished telemetry turned into bytes and sent, to a collector or straight to
//! AWS.
//!
//! - [`otlp`] (`otlp`, the default of every signal): OTLP over HTTP (protobuf or JSON) or gRPC,
//!   to a collector or to the lambda-otel extension, through opentelemetry-otlp with an HTTP
//!   client of this crate's.
//! - [`xray`] (`OTEL_TRACES_EXPORTER=xray`): spans as X-Ray segment documents, one UDP
//!   datagram each, to the daemon Lambda runs with Active tracing (`AWS_XRAY_DAEMON_ADDRESS`).
//! - `emf` (`OTEL_METRICS_EXPORTER=emf`, with the `metrics` feature): metrics as CloudWatch
//!   Embedded Metric Format lines on stdout, which CloudWatch Logs turns into metrics.
//! - [`console`] (`console`, any signal): one JSON object per span, metric point or log record
//!   on stdout, for a first run and for reading in CloudWatch Logs.
//!
//! `xray`, `emf` and `console` need no collector, no HTTP exchange and no credentials. Each
//! exporter only turns data into bytes and sends them; when and how long to wait is the
//! flush's job, the same for every exporter: it holds each one behind [`boxed`]'s object-safe
//! traits, whichever the settings chose.
//!
//! May use `config` (the resolved settings), `attributes`, `clock` (the OTLP/HTTP client's
//! timeout), the crate's [`Error`](crate::Error) and libraries; never the set-up in
//! `telemetry`, which builds the exporters, nor the middleware above it (`layer`,
//! `invocation`).

pub(crate) mod boxed;
pub mod console;
#[cfg(feature = "metrics")]
pub(crate) mod emf;
pub(crate) mod otlp;
#[cfg(feature = "xray")]
pub(crate) mod xray;

use opentelemetry::trace::TraceId;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// X-Ray refuses a trace id whose time is older than this (30 days, in seconds)...
const MAX_TRACE_AGE_SECS: u64 = 60 * 60 * 24 * 30;
/// ...or further ahead of the clock than this (5 minutes).
const MAX_TRACE_SKEW_SECS: u64 = 60 * 5;

/// Part of a batch that did not reach its destination: the items lost and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loss {
    pub lost: usize,
    pub reason: String,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Whether X-Ray's segment route takes `trace_id`: its first 32 bits must be the epoch second
/// the trace started, within X-Ray's window (the rule opentelemetry-aws's translator applies
/// before sending; a W3C random trace id almost never passes).
pub(crate) fn xray_compatible(trace_id: TraceId, now: SystemTime) -> bool {
    let bytes = trace_id.to_bytes();
    let started = u64::from(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    started + MAX_TRACE_AGE_SECS >= now && started <= now + MAX_TRACE_SKEW_SECS
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_recent_epoch_seconds_make_xray_trace_ids() {
        let now = UNIX_EPOCH + Duration::from_secs(0x6929_0000);
        let id = |hex: &str| TraceId::from_hex(hex).expect("hex");
        assert!(xray_compatible(id("69290000bd862e3fe1be46a994272793"), now));
        assert!(xray_compatible(id("6928f000bd862e3fe1be46a994272793"), now));
        // 31 days old, 6 minutes ahead, and a W3C random id.
        assert!(!xray_compatible(
            id("69002180bd862e3fe1be46a994272793"),
            now
        ));
        assert!(!xray_compatible(
            id("69290168bd862e3fe1be46a994272793"),
            now
        ));
        assert!(!xray_compatible(
            id("4bf92f3577b34da6a3ce929d0e0e4736"),
            now
        ));
    }
}
