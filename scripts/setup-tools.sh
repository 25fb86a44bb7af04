#!/usr/bin/env bash
# Installs the pinned local tools (cargo-lambda, SAM CLI, cfn-lint, zig) into a project-local
# virtualenv, so nothing is installed system-wide and every machine gets the same versions.
# Idempotent: pip runs only when scripts/requirements-tools.txt changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=scripts/requirements-tools.txt
stamp="$venv/.tools-installed"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup-tools: creating $venv"
    python3 -m venv "$venv"
fi

# The stamp holds the hash of the requirements it installed, so editing a pin reinstalls.
wanted_hash=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted_hash" ]]; then
    echo "setup-tools: installing $requirements (takes a few minutes the first time)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --requirement "$requirements"
    echo "$wanted_hash" >"$stamp"
fi

bin="$(pwd)/$venv/bin"
echo "setup-tools: tools are in $bin"
# cargo-lambda is a cargo subcommand: cargo passes "lambda" as its first argument.
printf '  %-13s %s\n' cargo-lambda "$("$bin/cargo-lambda" lambda --version)"
printf '  %-13s %s\n' sam "$("$bin/sam" --version)"
printf '  %-13s %s\n' cfn-lint "$("$bin/cfn-lint" --version)"
printf '  %-13s %s\n' zig "$("$bin/python" -m ziglang version)"
