#!/usr/bin/env bash
# Builds the real backends that tests/backends.rs runs against, from their own Go modules at
# pinned versions, into .backends/bin/ (ignored by git):
#   jaeger               Jaeger v2 all-in-one (OTLP in, query API out, in-memory storage);
#                        run with backends/jaeger.yaml
#   otelcol-lambda-otel  an OpenTelemetry Collector made by the collector's own builder from
#                        backends/otelcol-builder.yaml (otlp and awsxray receivers, otlp_grpc,
#                        otlp_http and file exporters)
# Idempotent: a build runs only when its pins changed since the last one (a stamp beside each
# binary holds them), so a second run is instant. Needs Go and the Go module proxy, nothing else;
# the downloads and the build cache go to Go's usual caches (GOMODCACHE, GOCACHE).
set -euo pipefail
cd "$(dirname "$0")/.."

# Jaeger tags each release twice (v1.x and v2.x); its Go module has no /v2 suffix, so the Go
# module proxy serves the v1 tag. v1.76.0 is Jaeger v2.13.0, and its cmd/jaeger is the v2 binary.
jaeger_version=v1.76.0
jaeger_release=v2.13.0
# Jaeger's own go.mod replaces this module; a build outside Jaeger's module must do the same.
jaeger_replace=github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0
# The collector's builder, at the release of the manifest's core modules.
builder_version=v0.159.0
manifest=backends/otelcol-builder.yaml

out=.backends
bin="$out/bin"
# -mod=mod: the temporary module takes its go.sum from the proxy. GOTOOLCHAIN=local: never fetch
# another Go; a too-old Go fails here with Go's own message.
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local
mkdir -p "$bin"
# Two runs at once (a test command and a developer) would build into the same folders.
exec 9>"$out/.lock"
flock 9

# Drops Go's progress lines (hundreds of modules), keeps the rest; under pipefail a pipeline
# through it still fails when the command did.
quiet() {
    grep -v '^go: \(downloading\|added\|finding\)' || true
}

# Prints "built" when $1's stamp differs from $2 (or $1 is missing), else nothing.
stale() {
    [[ -x "$1" && -f "$1.stamp" && "$(cat "$1.stamp")" == "$2" ]] || echo built
}

# Only a build needs Go: with both binaries up to date, the script runs without it.
need_go() {
    command -v go >/dev/null && return
    echo "setup-backends: needs Go 1.25 or newer (the collector's modules ask for it)" >&2
    exit 1
}

build_jaeger() {
    need_go
    local work
    work=$(mktemp -d)
    # shellcheck disable=SC2064 # expand $work now: it is local
    trap "rm -rf '$work'; trap - RETURN" RETURN
    (
        cd "$work"
        go mod init lambda-otel.test/jaeger >/dev/null 2>&1
        go mod edit -replace "$jaeger_replace"
        go get "github.com/jaegertracing/jaeger@$jaeger_version" 2>&1 | quiet
        # The version `jaeger version` reports, as Jaeger's own build sets it.
        go build -trimpath -o jaeger \
            -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$jaeger_release" \
            github.com/jaegertracing/jaeger/cmd/jaeger 2>&1 | quiet
    )
    mv "$work/jaeger" "$bin/jaeger"
}

build_collector() {
    need_go
    GOBIN="$(pwd)/$out/tools" go install "go.opentelemetry.io/collector/cmd/builder@$builder_version" 2>&1 | quiet
    # The builder writes sources and binary to the manifest's output_path (under $out).
    "$out/tools/builder" --config "$manifest" 2>&1 | quiet
    local built="$out/otelcol/otelcol-lambda-otel"
    [[ -x "$built" ]] || { echo "setup-backends: the builder made no $built" >&2; exit 1; }
    mv "$built" "$bin/otelcol-lambda-otel"
}

jaeger_stamp="jaeger $jaeger_version ($jaeger_release) go.mod replace $jaeger_replace"
if [[ -n "$(stale "$bin/jaeger" "$jaeger_stamp")" ]]; then
    echo "setup-backends: building Jaeger $jaeger_release (module $jaeger_version; several minutes the first time)"
    start=$SECONDS
    build_jaeger
    echo "$jaeger_stamp" >"$bin/jaeger.stamp"
    echo "setup-backends: Jaeger built in $((SECONDS - start)) s"
fi

collector_stamp="builder $builder_version manifest $(sha256sum "$manifest" | cut -d' ' -f1)"
if [[ -n "$(stale "$bin/otelcol-lambda-otel" "$collector_stamp")" ]]; then
    echo "setup-backends: building the collector from $manifest (builder $builder_version; several minutes the first time)"
    start=$SECONDS
    build_collector
    echo "$collector_stamp" >"$bin/otelcol-lambda-otel.stamp"
    echo "setup-backends: collector built in $((SECONDS - start)) s"
fi

echo "setup-backends: backends are in $(pwd)/$bin"
printf '  %-20s %s\n' jaeger "$("$bin/jaeger" version 2>/dev/null | sed -n 's/.*"gitVersion":"\([^"]*\)".*/jaeger \1/p')"
printf '  %-20s %s\n' otelcol-lambda-otel "$("$bin/otelcol-lambda-otel" --version)"
