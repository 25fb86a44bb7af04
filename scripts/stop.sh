# Sourced by the demo scripts: stop_process PID stops a process they started. TERM, then up to
# 10 s (cargo-lambda stops the function it started when it gets SIGTERM), then KILL. An empty
# PID or a process already gone is nothing to do.
stop_process() {
    [[ -n "$1" ]] || return 0
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 20); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL "$1" 2>/dev/null || true
}
