#!/usr/bin/env bash
# The README's test command: sets up .venv (scripts/bootstrap.sh), runs the static checks
# (ruff lint and format, mypy), then the whole suite. Extra arguments go to pytest.
# The Redis store tests start their own redis-server and redis-sentinel processes (on free
# loopback ports): the Debian packages are installed from apt when the binaries are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-sentinel >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-sentinel >/dev/null
  else
    echo "redis-server and redis-sentinel are missing: run 'sudo apt-get install redis-server redis-sentinel' and retry" >&2
    exit 1
  fi
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
