//! `lambda-otel-extension`: a Lambda external extension (see `layer/README.md`).

mod backend;

fn main() {}
