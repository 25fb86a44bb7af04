#!/usr/bin/env bash
# Lints template.yaml offline with the pinned tools from setup-tools.sh: cfn-lint for the
# CloudFormation rules, then `sam validate --lint` for the SAM transform's own checks.
set -euo pipefail
cd "$(dirname "$0")/.."

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
echo "lint-template: template.yaml is valid"
