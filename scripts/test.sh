#!/usr/bin/env bash
# The README's test command: sets up .venv (scripts/bootstrap.sh), runs the static checks
# (ruff lint and format, mypy), then the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
