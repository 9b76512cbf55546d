"""Generate every file of the monitoring bundle from one config; write them, or check them.

>>> files = generate_files()                       # relative path -> text
>>> write_files(root, files)                       # what `curvewatch monitoring generate` does
>>> stale = check_files(root, files)               # paths whose committed text differs (or is missing)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from curvewatch._atomic import atomic_write_text
from curvewatch.monitoring.archive_dashboards import archive_files
from curvewatch.monitoring.compose import compose_files
from curvewatch.monitoring.config import DEFAULT_CONFIG, MonitoringConfig
from curvewatch.monitoring.grafana_files import grafana_files
from curvewatch.monitoring.hosts import hosts_files
from curvewatch.monitoring.kubernetes import kubernetes_files
from curvewatch.monitoring.prometheus_files import prometheus_files
from curvewatch.monitoring.rule_tests import rule_test_files
from curvewatch.monitoring.serving_dashboard import serving_files

__all__ = ["GENERATORS", "check_files", "generate_files", "write_files"]

# Every set of generated files: config -> {relative path: text}. To add an output (e.g. Kubernetes
# manifests under deploy/), append its function here; `generate` writes it and `generate --check` checks
# it. A new dashboard is one line in dashboards.DASHBOARDS instead (grafana_files writes it).
GENERATORS: list[Callable[[MonitoringConfig], dict[str, str]]] = [
    prometheus_files,
    rule_test_files,
    grafana_files,
    compose_files,
    archive_files,
    kubernetes_files,  # deploy/kubernetes/
    hosts_files,  # deploy/hosts/
    serving_files,  # served versions: promtool cases of their alerts, the "served versions" dashboard
]


def generate_files(config: MonitoringConfig = DEFAULT_CONFIG) -> dict[str, str]:
    """Relative path (``/``-separated, from the repository root) -> text of every generated file."""
    config.validate()
    files: dict[str, str] = {}
    for generator in GENERATORS:
        produced = generator(config)
        clash = sorted(set(files) & set(produced))
        if clash:
            raise RuntimeError(f"{generator.__name__} writes {clash}, which another generator writes too; "
                               "give each file one generator.")
        files.update(produced)
    return dict(sorted(files.items()))


def write_files(root: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` under ``root`` (each atomically, through a temp file); return the paths written."""
    written = []
    for relative, text in files.items():
        path = Path(root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        written.append(path)
    return written


def check_files(root: Path, files: dict[str, str]) -> list[str]:
    """Relative paths under ``root`` that are missing or differ from ``files``."""
    stale = []
    for relative, text in files.items():
        path = Path(root) / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale
