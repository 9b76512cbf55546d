#!/usr/bin/env bash
# Set up curvewatch's main job on a fresh machine: a virtualenv in .venv/, torch==2.13.0 (CPU
# build, installed first and pinned so no resolver ever pulls a CUDA build), then curvewatch with
# the bundled forecasters (core + [trainers]). The Debian servers and tools the tests use are
# installed by scripts/setup-tests.sh, not here. Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
# gcc and the Python headers build CurveRecorder.log()'s C hot path (exporter/recorder/_clogbuf.c);
# without them pip installs the pure-Python twin (slower log(), same results).
if ! command -v gcc >/dev/null 2>&1; then
    echo "setup: no gcc: the recorder will use its pure-Python log buffer (scripts/setup-tests.sh installs gcc)." >&2
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# torch first, pinned: the CPU wheel on these machines' disk. Elsewhere PyPI's torch for Linux is a
# CUDA build of several GB: set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu to get the CPU one.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    .venv/bin/pip install -q torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
# Whatever torch is installed stays: every later install is constrained to it.
.venv/bin/python -W ignore -c "import torch; print(f'torch=={torch.__version__}')" > .venv/torch-constraint.txt
.venv/bin/pip install -q -c .venv/torch-constraint.txt -e ".[${CURVEWATCH_EXTRAS:-trainers}]"
