#!/usr/bin/env bash
# The one-command demo: runs the dice roller locally under `cargo lambda watch` with the
# console span and metric exporters and JSON log lines, sends it every sample event in events/
# (the *.json files directly there; events/triggers/ holds other event sources, which the dice
# roller does not serve), prints each response, then the spans, log lines and the last metrics
# the function printed. Every wait is bounded; the watcher stops on exit.
#
# Environment: DEMO_PORT (default 9000), DEMO_READY_SECS (default 60),
# DEMO_INVOKE_SECS (default 300: the first invoke may still compile), DEMO_SPANS_SECS (10).
#
# `scripts/demo.sh --jaeger` runs scripts/demo-jaeger.sh instead: the same function behind an
# OpenTelemetry Collector and Jaeger built from source (no Docker), its trace printed from
# Jaeger's query API.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == --jaeger ]]; then
    shift
    exec scripts/demo-jaeger.sh "$@"
fi

function_name=dice-roller
port="${DEMO_PORT:-9000}"
address=127.0.0.1
ready_secs="${DEMO_READY_SECS:-60}"
invoke_secs="${DEMO_INVOKE_SECS:-300}"
spans_secs="${DEMO_SPANS_SECS:-10}"
log_dir=target/demo
log="$log_dir/watch.log"

say() { printf '\n== %s\n' "$*"; }

scripts/setup-tools.sh
export PATH="$PWD/.venv/bin:$PATH"

# Compile up front: a build error shows here, not as a hung first invoke.
say "building $function_name"
cargo build --package "$function_name" --bin "$function_name"

mkdir -p "$log_dir"
: >"$log"
watch_pid=

# shellcheck source=scripts/stop.sh
source scripts/stop.sh
stop_watcher() { stop_process "$watch_pid"; }
trap stop_watcher EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$address/$port") 2>/dev/null; }

# Otherwise the readiness check below would see the other server and invoke the wrong thing.
if port_open; then
    echo "demo: $address:$port is already in use; set DEMO_PORT to a free port" >&2
    exit 1
fi

say "starting cargo lambda watch on $address:$port (log: $log)"
cargo lambda watch \
    --package "$function_name" --bin "$function_name" \
    --invoke-address "$address" --invoke-port "$port" \
    --ignore-changes \
    --env-var OTEL_TRACES_EXPORTER=console \
    --env-var OTEL_METRICS_EXPORTER=console \
    --env-var OTEL_METRIC_EXPORT_INTERVAL=0 \
    --env-var OTEL_LOGS_EXPORTER=none \
    --env-var AWS_LAMBDA_LOG_FORMAT=JSON \
    --env-var OTEL_SERVICE_NAME="$function_name" \
    >"$log" 2>&1 &
watch_pid=$!

for ((waited = 0; ; waited++)); do
    if ! kill -0 "$watch_pid" 2>/dev/null; then
        echo "demo: cargo lambda watch exited; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    port_open && break
    if ((waited >= ready_secs)); then
        echo "demo: nothing listening on $address:$port after ${ready_secs}s; log: $log" >&2
        exit 1
    fi
    sleep 1
done

failures=0
invocations=0
# Top level only: events/triggers/*.json are not requests for this function.
for event in events/*.json; do
    say "$event"
    if timeout "$invoke_secs" cargo lambda invoke "$function_name" \
        --invoke-address "$address" --invoke-port "$port" --data-file "$event"; then
        invocations=$((invocations + 1))
    else
        echo "demo: invoking with $event failed (or took over ${invoke_secs}s)" >&2
        failures=$((failures + 1))
    fi
done

# The console exporter writes one JSON object per span and line, after the response is sent:
# wait (bounded) until every answered invocation has at least its invocation span printed.
span_lines() { grep -E '^\{"name":"[^"]*","trace_id":' "$log" || true; }
for ((waited = 0; waited < spans_secs * 4; waited++)); do
    (($(span_lines | wc -l) >= invocations)) && break
    sleep 0.25
done

say "spans printed by the function"
span_lines

say "log lines (JSON, with requestId, trace_id and span_id)"
grep '^{"timestamp":' "$log" || true

say "metrics after the last invocation (cumulative)"
for metric in faas.invocations faas.errors faas.coldstarts dice.rolls; do
    grep "^{\"name\":\"$metric\"," "$log" | tail -n 1 || true
done

if ((failures > 0)); then
    echo "demo: $failures invocation(s) failed; see $log" >&2
    exit 1
fi
