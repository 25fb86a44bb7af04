//! lambda-otel
