"""Generate every file of the monitoring bundle from one config; write them, or check them.

>>> files = generate_files()                       # relative path -> text
>>> write_files(root, files)                       # what `curvewatch monitoring generate` does
>>> stale = check_files(root, files)               # paths whose committed text differs (or is missing)
"""

from __future__ import annotations

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

__all__ = ["check_files", "generate_files", "write_files"]


def generate_files(config: MonitoringConfig = DEFAULT_CONFIG) -> dict[str, str]:
    """Relative path (``/``-separated, from the repository root) -> text of every generated file."""
    config.validate()
    files = {**prometheus_files(config), **rule_test_files(config), **grafana_files(config), **compose_files(config),
             **archive_files(config)}
    files.update({**kubernetes_files(config), **hosts_files(config)})  # deploy/kubernetes/, deploy/hosts/
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
