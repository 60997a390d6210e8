#!/usr/bin/env bash
# The README's first command: sets up .venv and runs `ctilink demo` on the simulated switch
# (60 s of wall time at 30x: half an hour of a simulated call centre). Extra arguments go to ctilink demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/ctilink demo --speed 30 --duration 60 "$@"
