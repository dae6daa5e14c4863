#!/usr/bin/env bash
# Fresh machine to finished demo run: set up, then `workbench demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/workbench demo "$@"
