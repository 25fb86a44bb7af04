#!/usr/bin/env bash
# The project's test command (README, CI): tools, formatting, lints, docs, every test, the
# SAM template. Runs on a fresh machine: everything it needs installs from the project's files.
set -euo pipefail
cd "$(dirname "$0")/.."
# A one-off build: incremental caches only cost disk (they were half the target folder).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

scripts/setup-tools.sh
# Jaeger v2 and an OpenTelemetry Collector (awsxray receiver), built from their Go modules at
# pinned versions into .backends/ (about 7 minutes on a fresh 2-core machine, then cached).
scripts/setup-backends.sh
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "test: installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p lambda-otel --all-targets --all-features -- -D warnings
cargo clippy -p lambda-otel --no-default-features --all-targets -- -D warnings
cargo clippy -p lambda-otel-extension --all-targets --all-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
# Each test runs in its own process: the integration tests set the Lambda environment.
cargo nextest run --workspace --no-fail-fast
# End to end against the real backends: Jaeger's query API, a collector in the middle, X-Ray
# documents read by the collector's awsxray receiver.
cargo nextest run -p lambda-otel --test backends --run-ignored only --no-fail-fast
# The README's Jaeger steps as written: the dice roller under cargo lambda watch, through the
# collector into Jaeger; fails unless Jaeger's API returns GET /rolldice with its roll child.
scripts/demo.sh --jaeger
# Optional features' own unit tests (CloudWatch Logs decoding, gRPC).
cargo nextest run -p lambda-otel --lib --all-features --no-fail-fast
cargo nextest run -p lambda-otel --features tls --test tls --no-fail-fast
# A traces-only build (no metrics, no logs, no xray): what it keeps still works.
cargo nextest run -p lambda-otel --no-default-features --no-fail-fast
# The extension's SigV4 signing (AWS's published test vectors) and HTTPS settings.
cargo nextest run -p lambda-otel-extension --features sigv4 --bins --no-fail-fast
# The doctests. The README's snippets (examples/readme) build on their own: in a workspace
# build, the features other members ask for (tokio's `full` in lambda-otel's dev-dependencies)
# are unified into theirs and would hide a dependency or feature the README leaves out.
cargo test --workspace --exclude readme-snippets --doc
cargo test -p readme-snippets --doc
# The crate as it would be published: metadata, the `include` list, a build from the package.
cargo package -p lambda-otel
# The end-to-end benchmark, short and unoptimised: fails if lambda-otel loses a span or lets the
# runtime poll /next before an invocation's spans reached the collector.
scripts/bench.sh --quick
scripts/lint-template.sh
python3 scripts/check-events.py
echo "test: all checks passed"
