#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run curvewatch's main job on its embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/curvewatch train --all-models --quick "$@"
