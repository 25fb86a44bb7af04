#!/usr/bin/env bash
# The binary sizes the README quotes ("Deploying with SAM", the `tls` feature, the extension
# layer), measured the way `sam build` builds them for the template (provided.al2023, arm64):
# `cargo lambda build --release --arm64 -p dice-roller` for the function, and layer/Makefile's
# `cargo lambda build --extension --profile extension --arm64 -p lambda-otel-extension` for
# the extension (the template's layer has `--features sigv4`); all stripped.
# Prints one line per build with the date and commit, for the README.
#
#   scripts/sizes.sh      # several minutes: four release cross-builds (zig)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
target="${CARGO_TARGET_DIR:-target}"

echo "sizes: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(rustc --version)"
size() { stat -c %s "$target/lambda/dice-roller/bootstrap"; }
cargo lambda build --quiet --release --arm64 -p dice-roller
default=$(size)
cargo lambda build --quiet --release --arm64 -p dice-roller --features lambda-otel/tls
tls=$(size)
# Leave the default build in place: it is what `sam build` would deploy.
cargo lambda build --quiet --release --arm64 -p dice-roller

extension_size() { stat -c %s "$target/lambda/extensions/lambda-otel-extension"; }
extension() { cargo lambda build --quiet --extension --profile extension --arm64 -p lambda-otel-extension "$@"; }
extension
extension_default=$(extension_size)
# Last, as `sam build` builds it for the layer.
extension --features sigv4
extension_sigv4=$(extension_size)

python3 - "$default" "$tls" "$extension_default" "$extension_sigv4" <<'PY'
import sys
default, tls, extension, sigv4 = (int(v) for v in sys.argv[1:])
print(f"dice-roller arm64 bootstrap, default features: {default:,} bytes ({default / 1e6:.2f} MB)")
print(f"dice-roller arm64 bootstrap, with tls:         {tls:,} bytes ({tls / 1e6:.2f} MB, {(tls - default) / 1e6:+.2f} MB)")
print(f"lambda-otel-extension arm64, default features: {extension:,} bytes ({extension / 1e6:.2f} MB)")
print(f"lambda-otel-extension arm64, with sigv4:       {sigv4:,} bytes ({sigv4 / 1e6:.2f} MB, {(sigv4 - extension) / 1e6:+.2f} MB)")
PY
