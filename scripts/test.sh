#!/usr/bin/env bash
# Set up (scripts/setup-tests.sh) and run the whole test suite. pytest's exit 5 ("no tests
# collected") is a failure here, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tests.sh || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test: pytest collected no tests; that is a failure." >&2
    exit 1
fi
exit "$rc"
