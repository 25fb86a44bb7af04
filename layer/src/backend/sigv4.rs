//! SigV4 signing for AWS's OTLP endpoints (owned by the sigv4 helper; placeholder).
