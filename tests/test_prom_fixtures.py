"""The real-server fixtures other areas re-use: rules evaluated, alerts delivered, processes stopped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
import yaml
from fixtures.prometheus import poll, wait_for


def test_prometheus_evaluates_rule_files_and_sends_alerts_to_the_alertmanager(
    tmp_path: Path, prometheus_server, alertmanager_server
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "t",
                        "rules": [
                            {"record": "fixture:one", "expr": "vector(1)"},
                            {"alert": "FixtureAlways", "expr": "vector(1)", "labels": {"severity": "info"}},
                        ],
                    }
                ]
            }
        )
    )
    alertmanager = alertmanager_server()
    prom = prometheus_server(rule_files=[rules], alertmanager_url=alertmanager.url)
    assert wait_for(prom.url, "fixture:one")[0]["value"][1] == "1"

    def delivered() -> list[dict]:
        alerts = requests.get(f"{alertmanager.url}/api/v2/alerts", timeout=5).json()
        return [a for a in alerts if a["labels"].get("alertname") == "FixtureAlways"]

    assert poll(delivered, 30, "the alert to reach the Alertmanager")[0]["labels"]["severity"] == "info"


def test_servers_listen_on_localhost_and_stop_by_pid(prometheus_server, pushgateway_server) -> None:
    servers = [prometheus_server(), pushgateway_server()]
    for server in servers:
        assert server.url.startswith("http://127.0.0.1:")
        server.stop()
        with pytest.raises(ProcessLookupError):
            os.kill(server.pid, 0)
