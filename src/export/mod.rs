//! The AWS-native exporters: finished telemetry turned into bytes for the X-Ray daemon and for
//! CloudWatch, with no collector, no HTTP exchange and no credentials.
//!
//! - [`xray`] (`OTEL_TRACES_EXPORTER=xray`): spans as X-Ray segment documents, one UDP
//!   datagram each, to the daemon Lambda runs with Active tracing (`AWS_XRAY_DAEMON_ADDRESS`).
//! - [`emf`] (`OTEL_METRICS_EXPORTER=emf`): metrics as CloudWatch Embedded Metric Format
//!   lines on stdout, which CloudWatch Logs turns into metrics.
//!
//! Each one only turns data into bytes and sends them; when and how long to wait is the
//! flush's job, the same for every exporter.

pub(crate) mod emf;
#[cfg(feature = "xray")]
pub(crate) mod xray;

use std::fmt;

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
