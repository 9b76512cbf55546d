"""A real Prometheus scrapes the endpoint over mutual TLS with basic auth; scrapers lacking either fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from curvewatch import CurveRecorder
from curvewatch.prom import Exporter, RunInfo
from fixtures.prometheus import ServerProcess, poll, start_prometheus, targets_health, wait_for
from fixtures.tls import SERVER_NAME, TlsFiles, make_tls_files

USER, PASSWORD = "prometheus", "scrape-secret"


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """An mTLS + basic-auth endpoint and one Prometheus with three jobs: complete, no cert, no password."""
    tls: TlsFiles = make_tls_files(tmp_path_factory.mktemp("tls"))
    rec = CurveRecorder(budget=100)
    for step in range(10):
        rec.log(step, train_loss=1.0 / (step + 1))
    exporter = Exporter(rec, run=RunInfo(run_id="tls-run", rank=0))
    port = exporter.start(
        certfile=tls.server_cert,
        keyfile=tls.server_key,
        client_cafile=tls.ca_cert,
        client_auth_required=True,
        basic_auth=(USER, PASSWORD),
    )
    target = {"targets": [f"127.0.0.1:{port}"]}
    server_only = {"ca_file": str(tls.ca_cert), "server_name": SERVER_NAME}
    mutual = {**server_only, "cert_file": str(tls.client_cert), "key_file": str(tls.client_key)}
    auth = {"username": USER, "password": PASSWORD}
    jobs = [
        {
            "job_name": "no-client-cert",
            "scheme": "https",
            "tls_config": server_only,
            "basic_auth": auth,
            "static_configs": [target],
        },
        {"job_name": "no-password", "scheme": "https", "tls_config": mutual, "static_configs": [target]},
    ]
    prom = start_prometheus(
        tmp_path_factory.mktemp("prometheus"),
        scrape_targets=target["targets"],
        scheme="https",
        tls_config=mutual,
        basic_auth=auth,
        extra_scrape_configs=jobs,
    )
    yield prom
    prom.stop()
    exporter.stop()


def test_prometheus_with_the_ca_and_a_client_certificate_scrapes_the_tls_endpoint(scraped) -> None:
    result = wait_for(scraped.url, 'curvewatch_steps_total{run_id="tls-run"}')
    assert result[0]["metric"]["job"] == "curvewatch" and result[0]["value"][1] == "10"


# Under TLS 1.3 the client learns of a refused certificate from an alert or from the closed connection.
REFUSED_HANDSHAKE = ("tls", "certificate", "connection reset", "eof", "broken pipe")


@pytest.mark.parametrize(("job", "errors"), [("no-client-cert", REFUSED_HANDSHAKE), ("no-password", ("401",))])
def test_a_scraper_without_certificate_or_password_is_refused(scraped, job: str, errors: tuple[str, ...]) -> None:
    result = wait_for(scraped.url, f'up{{job="{job}"}}')
    assert result[0]["value"][1] == "0"

    def refused_as_expected() -> dict | None:
        # under load a scrape can also time out first; the next scrapes show the refusal itself
        (target,) = [t for t in targets_health(scraped.url) if t["job"] == job]
        return target if any(error in target["lastError"].lower() for error in errors) else None

    target = poll(refused_as_expected, timeout=30, what=f"the {job} scrape to be refused")
    assert "401" not in target["lastError"] or job == "no-password"  # refused by TLS before any HTTP
    assert wait_for(scraped.url, 'up{job="curvewatch"}')[0]["value"][1] == "1"
