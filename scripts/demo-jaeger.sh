#!/usr/bin/env bash
# The seed's topology on this machine, without Docker: the dice roller under `cargo lambda watch`
# exports OTLP/HTTP to an OpenTelemetry Collector, which sends the traces on to Jaeger over
# OTLP/gRPC (metrics and logs, which Jaeger does not take, go to the collector's file). Both
# backends are the ones scripts/setup-backends.sh builds into .backends/bin/, run with the
# configs the tests use (backends/jaeger.yaml, backends/otelcol-to-jaeger.yaml), every listener
# on 127.0.0.1. The script invokes the function once with events/apigw-v2-roll.json, polls
# Jaeger's query API (/api/traces?service=dice-roller) and prints the trace as a span tree with
# durations. It exits non-zero unless Jaeger returns that trace: `GET /rolldice` (server) with
# its `roll` child, service dice-roller; so it is also the test of the README's steps.
# Every wait is bounded; every process it started is stopped on exit.
#
# Run as `scripts/demo.sh --jaeger` (or directly).
# Environment: DEMO_READY_SECS (default 60: each backend's start, and the watcher's),
# DEMO_INVOKE_SECS (default 300: the first invoke may still compile), DEMO_TRACE_SECS (30).
# Ports are free ones the kernel picks, unless set: DEMO_PORT (the watcher's invoke port),
# DEMO_OTELCOL_GRPC_PORT, DEMO_OTELCOL_HTTP_PORT, DEMO_JAEGER_GRPC_PORT, DEMO_JAEGER_HTTP_PORT,
# DEMO_JAEGER_QUERY_PORT, DEMO_JAEGER_QUERY_GRPC_PORT, DEMO_JAEGER_HEALTH_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

function_name=dice-roller
event=events/apigw-v2-roll.json
address=127.0.0.1
ready_secs="${DEMO_READY_SECS:-60}"
invoke_secs="${DEMO_INVOKE_SECS:-300}"
trace_secs="${DEMO_TRACE_SECS:-30}"
dir=target/demo-jaeger
bin=.backends/bin

say() { printf '\n== %s\n' "$*"; }
fail() {
    echo "demo-jaeger: $*" >&2
    exit 1
}
(($# == 0)) || fail "takes no arguments (settings are environment variables: see the top of $0)"

started=$SECONDS
scripts/setup-tools.sh
export PATH="$PWD/.venv/bin:$PATH"
scripts/setup-backends.sh

# Eight free ports at once (held together, so they differ), for the ones not given.
read -r -a free < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(8)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
')
watch_port="${DEMO_PORT:-${free[0]}}"
export OTELCOL_OTLP_GRPC_PORT="${DEMO_OTELCOL_GRPC_PORT:-${free[1]}}"
export OTELCOL_OTLP_HTTP_PORT="${DEMO_OTELCOL_HTTP_PORT:-${free[2]}}"
export JAEGER_OTLP_GRPC_PORT="${DEMO_JAEGER_GRPC_PORT:-${free[3]}}"
export JAEGER_OTLP_HTTP_PORT="${DEMO_JAEGER_HTTP_PORT:-${free[4]}}"
export JAEGER_QUERY_PORT="${DEMO_JAEGER_QUERY_PORT:-${free[5]}}"
export JAEGER_QUERY_GRPC_PORT="${DEMO_JAEGER_QUERY_GRPC_PORT:-${free[6]}}"
export JAEGER_HEALTH_PORT="${DEMO_JAEGER_HEALTH_PORT:-${free[7]}}"
# The collector's file exporter (metrics and logs); relative to where the collector runs.
export OTELCOL_OUTPUT="$PWD/$dir/collector-output.jsonl"

port_open() { (exec 3<>"/dev/tcp/$address/$1") 2>/dev/null; }
for port in "$watch_port" "$OTELCOL_OTLP_GRPC_PORT" "$OTELCOL_OTLP_HTTP_PORT" \
    "$JAEGER_OTLP_GRPC_PORT" "$JAEGER_OTLP_HTTP_PORT" "$JAEGER_QUERY_PORT" \
    "$JAEGER_QUERY_GRPC_PORT" "$JAEGER_HEALTH_PORT"; do
    if port_open "$port"; then
        fail "$address:$port is already in use; leave the DEMO_*PORT variables unset for free ports"
    fi
done

# Compile up front: a build error shows here, not as a hung first invoke.
say "building $function_name"
cargo build --package "$function_name" --bin "$function_name"

mkdir -p "$dir"
: >"$dir/jaeger.log"
: >"$dir/collector.log"
: >"$dir/watch.log"
: >"$OTELCOL_OUTPUT"
jaeger_pid=
collector_pid=
watch_pid=

# shellcheck source=scripts/stop.sh
source scripts/stop.sh
stop_all() {
    stop_process "$watch_pid"
    stop_process "$collector_pid"
    stop_process "$jaeger_pid"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Polls `$2...` once every 0.25 s until it succeeds, for at most $1 seconds; fails if the process
# $pid_to_watch exits meanwhile.
wait_until() {
    local secs=$1
    shift
    local deadline=$((SECONDS + secs))
    until "$@"; do
        if [[ -n "${pid_to_watch:-}" ]] && ! kill -0 "$pid_to_watch" 2>/dev/null; then
            return 2
        fi
        ((SECONDS < deadline)) || return 1
        sleep 0.25
    done
}
answers() { curl -sf --max-time 2 -o /dev/null "http://$address:$1$2"; }
jaeger_ready() { answers "$JAEGER_HEALTH_PORT" /status && answers "$JAEGER_QUERY_PORT" /api/services; }
collector_ready() { grep -q 'Everything is ready' "$dir/collector.log"; }
watch_ready() { port_open "$watch_port"; }

say "starting Jaeger: OTLP gRPC $address:$JAEGER_OTLP_GRPC_PORT, query API http://$address:$JAEGER_QUERY_PORT (log: $dir/jaeger.log)"
"$bin/jaeger" --config backends/jaeger.yaml >"$dir/jaeger.log" 2>&1 &
jaeger_pid=$!
pid_to_watch=$jaeger_pid
wait_until "$ready_secs" jaeger_ready || {
    cat "$dir/jaeger.log" >&2
    fail "Jaeger did not come up within ${ready_secs}s (or exited); its log is above"
}

say "starting the collector: OTLP/HTTP in at http://$address:$OTELCOL_OTLP_HTTP_PORT, traces on to Jaeger (log: $dir/collector.log)"
"$bin/otelcol-lambda-otel" --config backends/otelcol-to-jaeger.yaml >"$dir/collector.log" 2>&1 &
collector_pid=$!
pid_to_watch=$collector_pid
wait_until "$ready_secs" collector_ready || {
    cat "$dir/collector.log" >&2
    fail "the collector did not come up within ${ready_secs}s (or exited); its log is above"
}

say "starting cargo lambda watch on $address:$watch_port (log: $dir/watch.log)"
OTEL_EXPORTER_OTLP_ENDPOINT="http://$address:$OTELCOL_OTLP_HTTP_PORT" \
    OTEL_SERVICE_NAME="$function_name" \
    cargo lambda watch -p "$function_name" \
    --invoke-address "$address" --invoke-port "$watch_port" --ignore-changes \
    >"$dir/watch.log" 2>&1 &
watch_pid=$!
pid_to_watch=$watch_pid
wait_until "$ready_secs" watch_ready || {
    cat "$dir/watch.log" >&2
    fail "cargo lambda watch did not listen on $address:$watch_port within ${ready_secs}s (or exited); its log is above"
}
pid_to_watch=

say "cargo lambda invoke $function_name --data-file $event"
timeout "$invoke_secs" cargo lambda invoke "$function_name" \
    --invoke-address "$address" --invoke-port "$watch_port" --data-file "$event" ||
    fail "the invocation failed (or took over ${invoke_secs}s); see $dir/watch.log"
echo

# Prints the traces Jaeger returned ($1: its JSON) as span trees and exits 0 if one of them is
# the expected trace: `GET /rolldice` (server), service dice-roller, with a `roll` child.
# With $2 = quiet, only the exit status.
show_trace() {
    python3 - "$@" <<'EOF'
import json, sys

reply = json.loads(sys.argv[1])
quiet = len(sys.argv) > 2
found = False
for trace in reply.get("data") or []:
    spans = {s["spanID"]: s for s in trace["spans"]}
    parent = {}
    for s in trace["spans"]:
        for ref in s.get("references") or []:
            if ref.get("refType") == "CHILD_OF" and ref["spanID"] in spans:
                parent[s["spanID"]] = ref["spanID"]
    tags = lambda s: {t["key"]: t["value"] for t in s.get("tags") or []}
    service = lambda s: trace["processes"][s["processID"]]["serviceName"]
    for s in trace["spans"]:
        if (s["operationName"] == "GET /rolldice" and tags(s).get("span.kind") == "server"
                and service(s) == "dice-roller"
                and any(c["operationName"] == "roll" and parent.get(c["spanID"]) == s["spanID"]
                        for c in trace["spans"])):
            found = True
    if quiet:
        continue
    start = min(s["startTime"] for s in trace["spans"])
    print(f"trace {trace['traceID']} ({len(spans)} spans)")
    def show(s, depth):
        t = tags(s)
        value = lambda v: v if isinstance(v, str) else json.dumps(v)
        notes = [f"{k}={value(t[k])}" for k in
                 ("span.kind", "http.response.status_code", "faas.coldstart", "dice.player", "error")
                 if k in t]
        print(f"  {'  ' * depth}{s['operationName']:<{30 - 2 * depth}} "
              f"{s['duration'] / 1000:9.3f} ms  (at +{(s['startTime'] - start) / 1000:.3f} ms)  "
              f"[{service(s)}] {' '.join(notes)}")
        for c in sorted((c for c in trace["spans"] if parent.get(c["spanID"]) == s["spanID"]),
                        key=lambda c: c["startTime"]):
            show(c, depth + 1)
    for root in sorted((s for s in trace["spans"] if s["spanID"] not in parent),
                       key=lambda s: s["startTime"]):
        show(root, 0)
sys.exit(0 if found else 1)
EOF
}

query="http://$address:$JAEGER_QUERY_PORT/api/traces?service=$function_name"
say "polling Jaeger's query API for at most ${trace_secs}s: $query"
reply=
trace_in() {
    reply=$(curl -sf --max-time 2 "$query") && show_trace "$reply" quiet
}
if ! wait_until "$trace_secs" trace_in; then
    echo "demo-jaeger: Jaeger's last answer: ${reply:-none}" >&2
    fail "no trace with GET /rolldice and its roll child in Jaeger within ${trace_secs}s; logs in $dir/"
fi

say "the trace, as Jaeger's API returns it (durations, and start offsets from the trace's start)"
show_trace "$reply"

say "metrics and logs went to the collector's file"
echo "$OTELCOL_OUTPUT: $(grep -c resourceMetrics "$OTELCOL_OUTPUT" || true) metrics line(s), $(grep -c resourceLogs "$OTELCOL_OUTPUT" || true) logs line(s)"

cat <<EOF

Jaeger here is a source build: its web UI assets may be missing (the page at
http://$address:$JAEGER_QUERY_PORT/ is then a placeholder); the query API above is what this demo shows.
demo-jaeger: ok in $((SECONDS - started)) s; stopping cargo lambda watch, the collector and Jaeger.
EOF
