#!/usr/bin/env bash
# Set up everything the test suite needs, on top of scripts/setup.sh: the Debian servers and tools
# the tests start on 127.0.0.1 (Prometheus 2.42 + promtool, Pushgateway, Alertmanager + amtool,
# PostgreSQL, docker-compose for `config -q`, gcc and the Python headers for the C log buffer, headless
# chromium for the report page), then
# curvewatch's [dev] extra (every extra plus the pinned test tools), torch kept as installed.
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(prometheus prometheus-pushgateway prometheus-alertmanager postgresql docker-compose gcc chromium)
DEBIAN_BINARIES=(promtool prometheus-pushgateway amtool pg_ctlcluster docker-compose gcc chromium)
PYTHON="${PYTHON:-python3}"

missing=()
for i in "${!DEBIAN_BINARIES[@]}"; do
    command -v "${DEBIAN_BINARIES[$i]}" >/dev/null 2>&1 || missing+=("${DEBIAN_PACKAGES[$i]}")
done
# ... and the Python headers of the interpreter the venv is made from (Debian's python3: python3-dev)
if ! "$PYTHON" -c "import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(
        sysconfig.get_paths()['include'], 'Python.h')))"; then
    missing+=(python3-dev)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        echo "setup: installing Debian packages: ${missing[*]}"
        $SUDO apt-get update -q
        # The packages' own services would listen on every interface (:9090, :9091, :9093, :5432);
        # the tests start their own servers on 127.0.0.1, so keep the packaged ones from starting.
        no_start=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
            $SUDO chmod +x /usr/sbin/policy-rc.d
            no_start=1
        fi
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
        [ -n "$no_start" ] && $SUDO rm -f /usr/sbin/policy-rc.d
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now prometheus prometheus-pushgateway prometheus-alertmanager \
                >/dev/null 2>&1 || true
        fi
    else
        echo "setup: these Debian packages are missing and apt-get is not available: ${missing[*]}" >&2
        echo "setup: install them with your package manager and run this script again." >&2
        exit 1
    fi
fi

CURVEWATCH_EXTRAS=dev bash scripts/setup.sh
