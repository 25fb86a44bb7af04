#!/usr/bin/env bash
# Runs `sam build` on template.yaml, as a deploy would, and checks what it produced: the
# function's bootstrap and the extension layer's layout, the binary Lambda starts from
# /opt/extensions/ (the only file in the layer, executable, an ELF for the architecture the
# template declares). Both are release cross-builds with cargo-lambda and zig: 5 min 20 s on
# 2 CPUs from an empty target directory (2026-11-29), 3 s once cargo has built them.
#
#   scripts/check-sam-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x .venv/bin/sam || ! -x .venv/bin/cargo-lambda ]]; then
    echo "check-sam-build: tools missing, run scripts/setup-tools.sh first" >&2
    exit 1
fi
export PATH="$PWD/.venv/bin:$PATH"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0

start=$SECONDS
# --no-cached: SAM's cache key is the hash of CodeUri/ContentUri alone, which misses the
# workspace crates both binaries are built from; cargo's own cache keeps the rebuild cheap.
# --beta-features: older SAM CLIs ask before running the cargo-lambda builder.
sam build --beta-features --no-cached
echo "check-sam-build: sam build took $((SECONDS - start)) s"

.venv/bin/python - <<'PY'
import pathlib
import stat
import sys

from samtranslator.yaml_helper import yaml_parse

BUILD = pathlib.Path(".aws-sam/build")
# ELF e_machine values (System V ABI): what Lambda's architecture names run.
MACHINES = {"arm64": 183, "x86_64": 62}
NAMES = {value: key for key, value in MACHINES.items()}


def elf_arch(path):
    """The architecture of a 64-bit little-endian ELF executable, or why it is not one."""
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return None, "not an ELF file"
    if header[4] != 2 or header[5] != 1:
        return None, "not a 64-bit little-endian ELF"
    machine = int.from_bytes(header[18:20], "little")
    return NAMES.get(machine), f"ELF machine {machine}"


def check_binary(path, arch, errors):
    if not path.is_file():
        errors.append(f"{path}: missing")
        return
    # Lambda runs it as an unprivileged user: it must be readable and executable by all.
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o555 != 0o555:
        errors.append(f"{path}: mode {mode:o}, not readable and executable by all")
    found, detail = elf_arch(path)
    if found != arch:
        errors.append(f"{path}: {found or detail}, the template says {arch}")
    else:
        size = path.stat().st_size
        print(f"check-sam-build: {path}: {arch} ELF, {size:,} bytes ({size / 1e6:.2f} MB)")


template = yaml_parse(pathlib.Path("template.yaml").read_text())
resources = template["Resources"]
global_arch = template.get("Globals", {}).get("Function", {}).get("Architectures", ["x86_64"])
errors = []
for name, resource in resources.items():
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::Serverless::Function":
        arch = properties.get("Architectures", global_arch)[0]
        check_binary(BUILD / name / properties.get("Handler", "bootstrap"), arch, errors)
    elif resource["Type"] == "AWS::Serverless::LayerVersion":
        arch = resource.get("Metadata", {}).get("BuildArchitecture", "x86_64")
        layer = BUILD / name
        files = sorted(p.relative_to(layer).as_posix() for p in layer.rglob("*") if not p.is_dir())
        expected = ["extensions/lambda-otel-extension"]
        if files != expected:
            errors.append(f"{layer}: holds {files}, expected {expected}")
        check_binary(layer / expected[0], arch, errors)
for error in errors:
    print(f"check-sam-build: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "check-sam-build: the function and the extension layer are built as the template says"
