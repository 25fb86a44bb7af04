#!/usr/bin/env bash
# The end-to-end benchmark (README, "Performance"): the dice roller bare, with lambda-otel in
# each flush mode and on the AWS-native route (X-Ray over UDP, EMF on stdout), and with
# lambda_runtime's own OpenTelemetry layer, as real processes against a loopback Runtime API,
# OTLP receiver and X-Ray daemon, all pinned to one CPU.
#
#   scripts/bench.sh            # the full run the README's table comes from (a few minutes)
#   scripts/bench.sh --quick    # a short run, debug build: checks every span (or X-Ray
#                               # document) arrives before the next /next, and EMF lines
#   scripts/bench.sh --only xray  # bare and the configurations whose name contains "xray"
#
# Other options (--rounds, --invocations, --cpu, ...): scripts/bench.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

for arg in "$@"; do
    if [[ "$arg" == "--quick" ]]; then
        # The test build's profile and features, so CI reuses what the tests compiled.
        cargo build --workspace --bins
        exec "$target/debug/lambda-otel-bench" --bin-dir "$target/debug" "$@"
    fi
done

# Release, stripped (profile `e2e`). One package per build, so each binary gets the features
# its own dependencies ask for, as in a project of its own.
cargo build --profile e2e -p dice-roller
cargo build --profile e2e -p lambda-otel-bench
echo "bench: $(rustc -V)" >&2
exec "$target/e2e/lambda-otel-bench" --bin-dir "$target/e2e" "$@"
