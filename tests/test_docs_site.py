"""The documentation site builds with ``mkdocs build --strict``, and the README stays a newcomer's page.

Strict mode turns every warning into a failure: a broken link or anchor, a page missing from the nav
(``validation.omitted_files``), a snippet whose file is gone (``pymdownx.snippets`` with ``check_paths``)
and an API name mkdocstrings cannot find.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
README_MAX_LINES = 200
BUILD_TIMEOUT_S = 180
TWO_COMMANDS = """```bash
bash scripts/run.sh    # set up, then run the main job on built-in defaults
bash scripts/test.sh   # set up, then run the whole test suite (what .ci/run calls)
```"""
# Every section of the README before it became a short page, and the docs page that holds it now.
MOVED_SECTIONS = {
    "The main job: train forecasters, watch them live, archive them": "tutorials/forecasters.md",
    "How good is a forecast: baselines, MASE, known-future inputs": "tutorials/forecasters.md",
    "Your own training loop: `curvewatch.RunTracker`": "tutorials/own-loop.md",
    "Frameworks and TensorBoard logdirs: one line each": "tutorials/frameworks.md",
    "PyTorch Lightning": "tutorials/lightning.md",
    "Hugging Face Transformers": "tutorials/transformers.md",
    "TensorBoard logdirs, no code change": "tutorials/tensorboard.md",
    "The recorder": "guides/recorder.md",
    "The curves document": "guides/recorder.md",
    "Live metrics for Prometheus": "guides/prometheus.md",
    "Model archive": "guides/archive.md",
    "Seeing and comparing archived runs": "guides/archive.md",
    "The registry as a SQL read model (Grafana)": "guides/archive.md",
    "Monitoring: Prometheus, alerts, Grafana (`docker compose up`)": "tutorials/monitoring.md",
    "Many trainers, many hosts, Kubernetes, one central view": "tutorials/scale-out.md",
    "Tests": "development.md",
    "Layout": "development.md",
}


def test_site_builds_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # `python -m mkdocs`, not .venv/bin/mkdocs: that script's folder on sys.path would shadow the package
    # run from elsewhere: the config finds its docs, snippets and package wherever it is started
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
               "--site-dir", str(tmp_path / "site")]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-6000:]
    api = (tmp_path / "site" / "reference" / "api" / "tracking" / "index.html").read_text(encoding="utf-8")
    assert 'id="curvewatch.tracking.RunTracker"' in api, "the API reference did not render RunTracker"
    bench = (tmp_path / "site" / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "MinMaxLTTB" in bench, "the benchmark figures were not included"


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, f"README.md has {len(text.splitlines())} lines"
    first_block = text.index("```")
    assert text[first_block:].startswith(TWO_COMMANDS), "the two commands must be the README's first block"


def test_readme_links_point_at_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert len(local) >= 20
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


@pytest.mark.parametrize(("title", "page"), sorted(MOVED_SECTIONS.items()))
def test_every_former_readme_section_lives_in_the_docs(title: str, page: str) -> None:
    headings = {line.lstrip("#").strip() for line in (REPO / "docs" / page).read_text(encoding="utf-8").splitlines()
                if line.startswith("#")}
    assert title in headings, f"docs/{page} lost the section {title!r}"


def test_every_committed_benchmark_result_is_on_the_benchmarks_page() -> None:
    page = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    results = sorted(p.name for p in (REPO / "bench" / "results").glob("*.md"))
    results += ["trainers.txt"] if (REPO / "bench" / "results" / "trainers.txt").exists() else []
    left_out = [name for name in results if f'--8<-- "bench/results/{name}"' not in page]
    assert not left_out, f"add these to docs/benchmarks.md: {left_out}"
