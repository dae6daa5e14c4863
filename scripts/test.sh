#!/usr/bin/env bash
# Fresh machine to test results: set up (with the browser for UI tests), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m pytest "$@"
