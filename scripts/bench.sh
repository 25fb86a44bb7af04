#!/usr/bin/env bash
# The end-to-end benchmark (README, "Performance"): the dice roller bare, with lambda-otel in
# each flush mode and on the AWS-native route (X-Ray over UDP, EMF on stdout), and with
# lambda_runtime's own OpenTelemetry layer, as real processes against a loopback Runtime API,
# OTLP receiver and X-Ray daemon, all pinned to one CPU. Then a hung collector (accepts, never
# answers): a function ending far more spans than the 2,048 lambda-otel holds, with a 2 s flush
# timeout; its peak RSS over bare's must stay within a bound (bench/src/flood.rs), or the run
# fails.
#
#   scripts/bench.sh            # the full run the README's table comes from (a few minutes);
#                               # hung collector: 200,000 spans in one invocation
#   scripts/bench.sh --quick    # a short run, debug build: checks every span (or X-Ray
#                               # document) arrives before the next /next, EMF lines, and
#                               # the peak RSS bound with 50,000 spans
#   scripts/bench.sh --only hung  # bare and the hung-collector scenario only
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
