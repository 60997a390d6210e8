#!/usr/bin/env bash
# The README's test command: sets up .venv (scripts/bootstrap.sh) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
