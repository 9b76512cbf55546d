"""Short jobs: the final push is readable from a real Pushgateway and through a Prometheus scraping it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from curvewatch import CurveRecorder
from curvewatch.prom import Exporter, PushError, RunInfo, watch
from fixtures.prometheus import ServerProcess, free_port, start_prometheus, start_pushgateway, wait_for
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A Pushgateway and a Prometheus scraping it with honor_labels (as the monitoring bundle does)."""
    pushgateway = start_pushgateway(tmp_path_factory.mktemp("pushgateway"))
    prom = start_prometheus(
        tmp_path_factory.mktemp("prometheus"),
        job_name="pushgateway",
        honor_labels=True,
        scrape_targets=[pushgateway.url.removeprefix("http://")],
    )
    yield pushgateway, prom
    prom.stop()
    pushgateway.stop()


def gateway_samples(pushgateway: ServerProcess, run_id: str) -> dict[tuple[str, frozenset], float]:
    text = requests.get(f"{pushgateway.url}/metrics", timeout=5).text
    return {
        (s.name, frozenset((k, v) for k, v in s.labels.items() if k not in ("run_id", "instance"))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("run_id") == run_id
    }


def finished_run(run_id: str, rank: int = 0) -> Exporter:
    rec = CurveRecorder(budget=100)
    rec.track_best("val_loss", mode="min")
    for step in range(1, 101):
        rec.log(step, train_loss=1.0 / step, val_loss=abs(step - 60) + 0.5)
    exporter = Exporter(rec, run=RunInfo(run_id=run_id, model_type="lstm", rank=rank))
    exporter.state = "finished"
    return exporter


def test_a_short_jobs_final_push_is_readable_from_the_pushgateway(gateway) -> None:
    pushgateway, _ = gateway
    keys = finished_run("short-1").push(pushgateway.url)
    assert keys == [{"run_id": "short-1", "rank": "0"}]
    samples = gateway_samples(pushgateway, "short-1")
    job = ("job", "curvewatch")
    assert samples[("curvewatch_run_state", frozenset({job, ("rank", "0"), ("state", "finished")}))] == 1.0
    assert samples[("curvewatch_run_state", frozenset({job, ("rank", "0"), ("state", "running")}))] == 0.0
    best = frozenset({job, ("rank", "0"), ("metric", "val_loss"), ("mode", "min")})
    assert (samples[("curvewatch_best_value", best)], samples[("curvewatch_best_step", best)]) == (0.5, 60.0)
    assert samples[("curvewatch_steps_total", frozenset({job, ("rank", "0")}))] == 100.0


def test_the_push_is_readable_through_prometheus_scraping_the_pushgateway(gateway) -> None:
    pushgateway, prom = gateway
    finished_run("short-2").push(pushgateway.url)
    result = wait_for(prom.url, 'curvewatch_run_state{run_id="short-2",state="finished"}')
    assert result[0]["metric"]["job"] == "curvewatch"  # the pushed job, kept by honor_labels
    assert result[0]["value"][1] == "1"
    best = wait_for(prom.url, 'curvewatch_best_step{run_id="short-2",metric="val_loss"}')
    assert best[0]["value"][1] == "60"


def test_delete_from_gateway_removes_only_that_group(gateway) -> None:
    pushgateway, _ = gateway
    keep, gone = finished_run("short-keep"), finished_run("short-gone")
    keep.push(pushgateway.url)
    gone.push(pushgateway.url)
    assert gone.delete_from_gateway(pushgateway.url) == [{"run_id": "short-gone", "rank": "0"}]
    assert gateway_samples(pushgateway, "short-gone") == {}
    assert gateway_samples(pushgateway, "short-keep") != {}


def test_the_ranks_of_one_run_push_into_separate_groups(gateway) -> None:
    pushgateway, _ = gateway
    for rank in (0, 1):
        finished_run("short-ranks", rank=rank).push(pushgateway.url)
    ranks = {dict(labels)["rank"] for name, labels in gateway_samples(pushgateway, "short-ranks")}
    assert ranks == {"0", "1"}


def test_watch_pushes_the_final_state_at_the_end(gateway) -> None:
    pushgateway, _ = gateway
    with pytest.raises(FloatingPointError), watch("short-crash", pushgateway=pushgateway.url) as (rec, _exp):
        rec.log(1, train_loss=1.0)
        raise FloatingPointError("loss diverged")
    samples = gateway_samples(pushgateway, "short-crash")
    assert samples[
        ("curvewatch_run_state", frozenset({("job", "curvewatch"), ("rank", "0"), ("state", "failed")}))
    ]


def test_a_failed_push_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PushError, match=f"The Pushgateway at {url} could not push job 'curvewatch'"):
        finished_run("short-nowhere").push(url)
