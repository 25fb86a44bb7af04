#!/usr/bin/env bash
# Lints template.yaml offline with the pinned tools from setup-tools.sh: cfn-lint for the
# CloudFormation rules, then `sam validate --lint` for the SAM transform's own checks, then
# what neither knows: every layer built with `makefile` has its target in the layer's Makefile
# and the architecture of the functions it goes with.
#
#   scripts/lint-template.sh           # seconds
#   scripts/lint-template.sh --build   # and scripts/check-sam-build.sh: a real `sam build`
set -euo pipefail
cd "$(dirname "$0")/.."

build=false
case "${1:-}" in
    "") ;;
    --build) build=true ;;
    *) echo "usage: scripts/lint-template.sh [--build]" >&2; exit 2 ;;
esac

if [[ ! -x .venv/bin/cfn-lint || ! -x .venv/bin/sam ]]; then
    echo "lint-template: tools missing, run scripts/setup-tools.sh first" >&2
    exit 1
fi

# sam wants a region even for local checks; no credentials are needed with --lint.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# Keep sam from trying to send usage data to the internet.
export SAM_CLI_TELEMETRY=0

.venv/bin/cfn-lint template.yaml
.venv/bin/sam validate --lint --template template.yaml

# SAM reads the template with its own YAML loader (the short intrinsic tags); the Makefile's
# default architecture is its `EXTENSION_ARCH ?=` line.
.venv/bin/python - <<'PY'
import pathlib
import re
import sys

from samtranslator.yaml_helper import yaml_parse

template = yaml_parse(pathlib.Path("template.yaml").read_text())
resources = template["Resources"]
global_arch = template.get("Globals", {}).get("Function", {}).get("Architectures", ["x86_64"])
function_archs = {
    arch
    for resource in resources.values()
    if resource["Type"] == "AWS::Serverless::Function"
    for arch in resource.get("Properties", {}).get("Architectures", global_arch)
}
errors = []
for name, resource in resources.items():
    metadata = resource.get("Metadata", {})
    if resource["Type"] != "AWS::Serverless::LayerVersion" or metadata.get("BuildMethod") != "makefile":
        continue
    properties = resource["Properties"]
    makefile = pathlib.Path(properties["ContentUri"]) / "Makefile"
    if not makefile.is_file():
        errors.append(f"{name}: no {makefile}")
        continue
    text = makefile.read_text()
    if not re.search(rf"^build-{name}:", text, re.MULTILINE):
        errors.append(f"{name}: {makefile} has no target build-{name}")
    default = re.search(r"^EXTENSION_ARCH \?= *(\S+)", text, re.MULTILINE)
    archs = {
        "the functions' Architectures": function_archs,
        "CompatibleArchitectures": set(properties.get("CompatibleArchitectures", [])),
        "Metadata BuildArchitecture": {metadata.get("BuildArchitecture", "x86_64")},
        f"{makefile}'s EXTENSION_ARCH": {default.group(1) if default else "(none)"},
    }
    if len(set.union(*archs.values())) != 1:
        found = "; ".join(f"{what}: {', '.join(sorted(values))}" for what, values in archs.items())
        errors.append(f"{name}: architectures differ ({found})")
for error in errors:
    print(f"lint-template: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "lint-template: template.yaml is valid"

if [[ "$build" == true ]]; then
    scripts/check-sam-build.sh
fi
