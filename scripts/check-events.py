#!/usr/bin/env python3
"""Checks the sample events in events/ (see events/README.md).

- every *.json file under events/ parses as JSON and is pretty-printed with 2-space indents
  and a final newline (the form the README asks for);
- every one of them is named in events/README.md, so the tables stay complete;
- the CloudWatch Logs sample's `awslogs.data` is real base64 + gzip of a JSON payload with a
  `logGroup`, identical to the readable copy next to it (`cloudwatch-logs.decoded.json`).

Usage: python3 scripts/check-events.py  (exit status 1 and one line per problem on failure)
"""

import base64
import binascii
import gzip
import json
import sys
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent / "events"
CLOUDWATCH = EVENTS / "triggers" / "cloudwatch-logs.json"
CLOUDWATCH_DECODED = EVENTS / "triggers" / "cloudwatch-logs.decoded.json"


def main() -> int:
    problems = []
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")
    files = sorted(EVENTS.rglob("*.json"))
    parsed = {}
    for path in files:
        name = path.relative_to(EVENTS).as_posix()
        text = path.read_text(encoding="utf-8")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            problems.append(f"{name}: not JSON: {e}")
            continue
        parsed[path] = value
        if text != json.dumps(value, indent=2, ensure_ascii=False) + "\n":
            problems.append(f"{name}: not pretty-printed with 2-space indents and a final newline")
        if f"`{path.name}`" not in readme:
            problems.append(f"{name}: not listed in events/README.md")

    if CLOUDWATCH in parsed:
        try:
            data = parsed[CLOUDWATCH]["awslogs"]["data"]
            payload = json.loads(gzip.decompress(base64.b64decode(data, validate=True)))
        except (KeyError, TypeError, binascii.Error, OSError, EOFError, ValueError) as e:
            problems.append(f"{CLOUDWATCH.name}: awslogs.data is not base64 gzip JSON: {e!r}")
        else:
            if not isinstance(payload, dict) or "logGroup" not in payload:
                problems.append(f"{CLOUDWATCH.name}: the decoded payload has no logGroup")
            if CLOUDWATCH_DECODED in parsed and payload != parsed[CLOUDWATCH_DECODED]:
                problems.append(
                    f"{CLOUDWATCH.name}: awslogs.data differs from {CLOUDWATCH_DECODED.name}"
                )
    else:
        problems.append(f"{CLOUDWATCH.relative_to(EVENTS)}: missing")

    for problem in problems:
        print(f"check-events: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-events: {len(files)} JSON files in events/ OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
