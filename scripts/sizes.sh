#!/usr/bin/env bash
# The binary sizes the README quotes ("Deploying with SAM", the `tls` feature), measured the
# way a deployed function is built: `cargo lambda build --release --arm64 -p dice-roller` is
# what `sam build` runs for the template (provided.al2023, arm64), stripped by cargo-lambda.
# Prints one line per build with the date and commit, for the README.
#
#   scripts/sizes.sh      # a few minutes: two release cross-builds (zig)
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
python3 - "$default" "$tls" <<'PY'
import sys
default, tls = (int(v) for v in sys.argv[1:])
print(f"dice-roller arm64 bootstrap, default features: {default:,} bytes ({default / 1e6:.2f} MB)")
print(f"dice-roller arm64 bootstrap, with tls:         {tls:,} bytes ({tls / 1e6:.2f} MB, {(tls - default) / 1e6:+.2f} MB)")
PY
