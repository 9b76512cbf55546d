"""A plain training loop gets a recorder and a live endpoint in two lines.

>>> with watch("mlp-1", port=0, budget=1000, model_type="mlp") as (rec, exporter):
...     print("scrape", exporter.url)
...     for step, batch in enumerate(loader):
...         loss = train_step(batch)
...         rec.log(step, train_loss=loss)

On a normal exit the run is ``finished``; on an exception it is ``failed`` (and the exception goes on);
either way the final values are pushed to ``pushgateway`` when given (a failed push is logged, never
raised: the run's result matters more), or else the endpoint serves the final state to its scrapers
for at most ``final_grace`` seconds (:mod:`exporter.prom.final_state`), and then stops. ``sd_file`` /
``sd_address`` register the endpoint with file_sd as in :meth:`Exporter.start`. The recorder is yours afterwards:
``rec.finalize()``, ``rec.save_json(path)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from curvewatch.prom import _names as n
from curvewatch.prom.exporter import START_OPTIONS, Exporter
from curvewatch.prom.run_info import RunInfo

__all__ = ["Watch", "watch"]

_RUN_FIELDS = ("model_type", "mode", "scope", "version", "experiment", "host", "rank")
_SERVE_OPTIONS = START_OPTIONS


class Watch(NamedTuple):
    recorder: Any
    exporter: Exporter


@contextmanager
def watch(
    run_id: str,
    *,
    port: int = 0,
    addr: str = n.DEFAULT_ADDR,
    budget: int = 1000,
    live_window: float = 60.0,
    ranks: str = n.RANKS_ALL,
    pushgateway: str | None = None,
    job: str = n.DEFAULT_JOB,
    registry: Any = None,
    final_grace: float = n.FINAL_GRACE_S,
    **options: Any,
) -> Iterator[Watch]:
    """Yield ``(recorder, exporter)`` serving on ``addr:port``; RunInfo fields, TLS and file_sd options as keywords."""
    unknown = sorted(set(options) - set(_RUN_FIELDS) - set(_SERVE_OPTIONS))
    if unknown:
        raise TypeError(
            f"watch() got unknown options {unknown}; it takes RunInfo fields {list(_RUN_FIELDS)} "
            f"and serving options {list(_SERVE_OPTIONS)}."
        )
    from curvewatch.recorder import CurveRecorder  # late: exporter/__init__ imports both areas

    run = RunInfo(run_id=run_id, **{k: v for k, v in options.items() if k in _RUN_FIELDS})
    recorder = CurveRecorder(budget=budget, live_window=live_window)
    exporter = Exporter(recorder, run=run, registry=registry, ranks=ranks, final_grace=final_grace,
                        pushgateway=pushgateway, push_job=job)
    exporter.start(port, addr, **{k: v for k, v in options.items() if k in _SERVE_OPTIONS})
    interrupted = False
    try:
        yield Watch(recorder, exporter)
        exporter.state = n.FINISHED
    except BaseException as exc:
        exporter.state = n.FAILED
        interrupted = isinstance(exc, KeyboardInterrupt)
        raise
    finally:
        exporter.stop(grace=0 if interrupted else None)
