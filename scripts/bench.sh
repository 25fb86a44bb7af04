#!/usr/bin/env bash
# The end-to-end benchmark (README, "Performance"): the dice roller bare, with lambda-otel in
# each flush mode and on the AWS-native route (X-Ray over UDP, EMF on stdout), with
# lambda_runtime's own OpenTelemetry layer, and exporting to the lambda-otel extension (layer/)
# that forwards to the collector, as real processes against a loopback Runtime API (with the
# Extensions and Telemetry APIs), OTLP receiver and X-Ray daemon, all pinned to one CPU. Then a
# hung collector (accepts, never answers): a function ending far more spans than the 2,048
# lambda-otel holds, with a 2 s flush timeout; its peak RSS over bare's must stay within a
# bound (bench/src/flood.rs), or the run fails.
#
#   scripts/bench.sh            # the full run the README's table comes from (a few minutes);
#                               # hung collector: 200,000 spans in one invocation
#   scripts/bench.sh --quick    # a short run, debug build: checks every span (or X-Ray
#                               # document) arrives before the next /next (with the
#                               # extension: before the freeze), EMF lines, the extension's
#                               # exit on SHUTDOWN, and the peak RSS bound with 50,000 spans
#   scripts/bench.sh --only hung  # bare and the hung-collector scenario only
#   scripts/bench.sh --only xray  # bare and the configurations whose name contains "xray"
#   scripts/bench.sh --only extension  # bare, the function alone, and the extension's
#   scripts/bench.sh --only "=lambda-otel, after-response"  # bare and that configuration alone
#   scripts/bench.sh --stages   # also the stage-marked rows: where the time goes in the process
#   scripts/bench.sh --stages --only stages  # bare and the stage-marked rows alone
#
# Other options (--rounds, --invocations, --cpu, ...): scripts/bench.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

for arg in "$@"; do
    if [[ "$arg" == "--quick" ]]; then
        # The test build's profile and features, so CI reuses most of what the tests compiled
        # (the traces-only build's lambda-otel, with `lambda-http` alone, is compiled once
        # more); the extension is among the workspace's binaries (debug, default features).
        # The traces-only build first: building the dice roller again with the workspace's
        # features puts the default build back under its own name.
        cargo build -p dice-roller --no-default-features
        cp "$target/debug/dice-roller" "$target/debug/dice-roller-traces-only"
        cargo build --workspace --bins
        exec "$target/debug/lambda-otel-bench" --bin-dir "$target/debug" "$@"
    fi
done

# Release, stripped (profile `e2e`). One package per build, so each binary gets the features
# its own dependencies ask for, as in a project of its own.
# The dice roller twice: a traces-only build (lambda-otel with `lambda-http` alone), then with
# the defaults under its own name.
cargo build --profile e2e -p dice-roller --no-default-features
cp "$target/e2e/dice-roller" "$target/e2e/dice-roller-traces-only"
cargo build --profile e2e -p dice-roller
cargo build --profile e2e -p lambda-otel-bench
# The extension as layer/Makefile ships it: profile `extension` (size-optimised, fat LTO, one
# codegen unit, panic=abort), feature `sigv4`. Its RSS, start-up and size are the layer's.
cargo build --profile extension -p lambda-otel-extension --features sigv4
echo "bench: $(rustc -V)" >&2
exec "$target/e2e/lambda-otel-bench" --bin-dir "$target/e2e" \
    --extension "$target/extension/lambda-otel-extension" "$@"
