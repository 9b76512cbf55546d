"""Every ```python block of README.md and docs/ runs, standalone, in a fresh temp dir (a subprocess with a timeout).

A block that cannot run alone (it needs a PostgreSQL host, certificates, a model and data of your own) is
marked on the line before its fence with ``<!-- not-run: why -->``; that count is kept small
(``MAX_NOT_RUN``). The blocks run two at a time (the suite's machine has 2 cores) in one session fixture;
each block is then its own test, named after its file and line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<why>[^>]*?)\s*-->")
FENCE = re.compile(r"^```python\s*$")
BLOCK_TIMEOUT_S = 180
PARALLEL = 2
MAX_NOT_RUN = 6  # fragments shown for their shape; everything else must run


class Block(NamedTuple):
    path: Path
    line: int  # of the opening fence, 1-based
    code: str
    not_run: str | None  # the reason, when marked

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of one Markdown file, with the not-run reason written just before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            start = i
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            before = next((x for x in reversed(lines[:start]) if x.strip()), "")
            mark = NOT_RUN.search(before)
            blocks.append(Block(path, start + 1, "\n".join(body) + "\n", mark.group("why") if mark else None))
        i += 1
    return blocks


ALL = [block for path in SOURCES for block in python_blocks(path)]
RUNNABLE = [b for b in ALL if b.not_run is None]


def _run(block: Block, workdir: Path) -> tuple[int, str, float]:
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURVEWATCH_")}
    env["MPLBACKEND"] = "Agg"
    env["OMP_NUM_THREADS"] = "1"  # two examples at a time on 2 cores: one torch thread each, no oversubscription
    script = workdir / "example.py"
    script.write_text(block.code, encoding="utf-8")
    t0 = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        return -1, f"timed out after {BLOCK_TIMEOUT_S} s\n{exc.stdout or ''}{exc.stderr or ''}", BLOCK_TIMEOUT_S
    return done.returncode, done.stdout + done.stderr, time.monotonic() - t0


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, float]]:
    base = tmp_path_factory.mktemp("docs-examples")
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {b.name: pool.submit(_run, b, base / f"block{i}") for i, b in enumerate(RUNNABLE)}
    return {name: future.result() for name, future in futures.items()}


def test_the_docs_have_runnable_examples() -> None:
    names = {b.path.name for b in RUNNABLE}
    assert len(RUNNABLE) >= 10, f"only {len(RUNNABLE)} runnable examples"
    assert {"README.md", "own-loop.md", "lightning.md", "transformers.md"} <= names


def test_few_blocks_are_marked_not_run() -> None:
    marked = [f"{b.name} ({b.not_run})" for b in ALL if b.not_run is not None]
    assert all(b.not_run for b in ALL if b.not_run is not None), "a not-run mark needs its reason"
    assert len(marked) <= MAX_NOT_RUN, f"{len(marked)} blocks are not run: {marked}"


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_example_runs(block: Block, results: dict[str, tuple[int, str, float]]) -> None:
    rc, output, seconds = results[block.name]
    assert rc == 0, f"{block.name} exited {rc} after {seconds:.1f} s:\n{output[-4000:]}"
