//! Where the received telemetry goes: an OTLP/HTTP(S) backend, signed for AWS's endpoints.

#[cfg(feature = "sigv4")]
pub(crate) mod sigv4;
