#!/usr/bin/env bash
# Set up curvewatch on a fresh machine: Debian packages the tests and the stack need,
# a virtualenv in .venv/, torch==2.13.0 (CPU build, installed first and pinned so no
# resolver ever pulls a CUDA build), then the project with its pinned dev tools.
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(prometheus prometheus-pushgateway prometheus-alertmanager postgresql docker-compose)
DEBIAN_BINARIES=(promtool prometheus-pushgateway amtool pg_ctlcluster docker-compose)

missing=()
for i in "${!DEBIAN_BINARIES[@]}"; do
    command -v "${DEBIAN_BINARIES[$i]}" >/dev/null 2>&1 || missing+=("${DEBIAN_PACKAGES[$i]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        echo "setup: installing Debian packages: ${missing[*]}"
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        echo "setup: these Debian packages are missing and apt-get is not available: ${missing[*]}" >&2
        echo "setup: install them with your package manager and run this script again." >&2
        exit 1
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# torch first, pinned: the CPU wheel on these machines' disk.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    .venv/bin/pip install -q torch==2.13.0
fi
.venv/bin/pip install -q -e ".[dev]"
