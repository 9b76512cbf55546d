"""A real fresh virtualenv with the core install only (`pip install <repo>`, no extras): it records, serves and
archives a run; nothing but `curvewatch` lands at the top of site-packages; a missing extra fails with a
sentence naming it; a user package named `trainers` next to it keeps working (import collision)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from curvewatch.extras import EXTRA_MODULES

REPO = Path(__file__).resolve().parents[1]
TORCH_PIN = "torch==2.13.0"  # what scripts/setup.sh installs first, from the same place

USER_LOOP = textwrap.dedent("""
    import json, sys, urllib.request
    import torch, curvewatch
    from curvewatch.archive import ModelArchive

    root = sys.argv[1]
    with curvewatch.RunTracker("core-only", model_type="linear", root=root, best="val_acc", mode="max") as run:
        model = torch.nn.Linear(2, 2)
        for epoch in range(1, 4):
            for _ in range(5):
                run.log(train_loss=torch.tensor(1.0 / epoch))
            run.epoch_end(epoch, model, val_acc=0.3 * epoch)
        body = urllib.request.urlopen(run.url, timeout=10).read().decode()
        record = run.finish(model)
    problems = ModelArchive(root).verify(record.identifier)
    print(json.dumps({"scraped": 'metric="val_acc"' in body, "identifier": record.identifier,
                      "problems": problems, "best_epoch": record.metrics_summary["best_epoch"]}))
""")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kwargs.pop("timeout", 600), check=False,
                          **kwargs)


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("core") / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    base = getattr(sys, "_base_executable", sys.executable)
    for cmd in ([base, "-m", "venv", str(venv)],
                [str(venv / "bin/pip"), "install", "-q", TORCH_PIN],
                [str(venv / "bin/pip"), "install", "-q", "-c", str(venv / "pins.txt"), str(REPO)]):
        if cmd[-1] == str(REPO):
            (venv / "pins.txt").write_text(TORCH_PIN + "\n")
        done = run(cmd, env=env, timeout=900)
        assert done.returncode == 0, f"{cmd}: {done.stderr[-3000:]}"
    return venv


@pytest.mark.timeout(1200)
def test_core_only_install_records_serves_and_archives_a_run(core_venv: Path, tmp_path: Path) -> None:
    script = tmp_path / "loop.py"
    script.write_text(USER_LOOP)
    done = run([str(core_venv / "bin/python"), str(script), str(tmp_path / "saved_models")], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"scraped": True, "identifier": "experiments/core-only/linear", "problems": [],
                      "best_epoch": 3}


@pytest.mark.timeout(1200)
def test_core_only_install_puts_only_curvewatch_at_the_top_of_site_packages(core_venv: Path) -> None:
    files = run([str(core_venv / "bin/pip"), "show", "-f", "curvewatch"]).stdout.splitlines()
    listed = [line.strip() for line in files[files.index("Files:") + 1:]]
    tops = {path.split("/")[0] for path in listed if not path.startswith("..")}  # ../bin/curvewatch: the script
    assert tops == {"curvewatch", "curvewatch-0.1.0.dist-info"}, tops
    for name in ("exporter", "trainers"):
        probe = run([str(core_venv / "bin/python"), "-c", f"import {name}"], cwd="/")
        assert probe.returncode != 0 and f"No module named '{name}'" in probe.stderr


@pytest.mark.timeout(1200)
def test_core_only_install_names_the_missing_extra(core_venv: Path, tmp_path: Path) -> None:
    train = run([str(core_venv / "bin/curvewatch"), "train", "--quick", "--no-serve", "--root",
                 str(tmp_path / "m")], cwd=tmp_path)
    assert train.returncode == 2 and "Traceback" not in train.stderr
    assert "needs the 'trainers' extra" in train.stderr and "pip install 'curvewatch[trainers]'" in train.stderr
    lib = run([str(core_venv / "bin/python"), "-c", "import curvewatch.trainers as t; t.TrainingManager"])
    assert "needs the 'trainers' extra" in lib.stderr
    pg = run([str(core_venv / "bin/curvewatch"), "versions", "list", "--root", str(tmp_path),
              "--db-url", "postgresql+psycopg://user@127.0.0.1:1/db"])
    assert pg.returncode == 2 and "curvewatch[postgres]" in pg.stderr and "Traceback" not in pg.stderr
    monitoring = run([str(core_venv / "bin/curvewatch"), "monitoring", "generate", "--check"], cwd=tmp_path)
    assert monitoring.returncode != 0 and "Traceback" not in monitoring.stderr


USER_TRAINERS = textwrap.dedent("""
    import trainers                      # the user's own package, next to the script
    import curvewatch
    from curvewatch import RunTracker
    import curvewatch.trainers
    assert trainers.MINE == "user", trainers.__file__
    assert curvewatch.trainers.__name__ == "curvewatch.trainers" and curvewatch.trainers is not trainers
    print("ok", RunTracker.__module__)
""")


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("where", ["core venv", "test venv"])
def test_a_user_package_named_trainers_does_not_collide(core_venv: Path, tmp_path: Path, where: str) -> None:
    (tmp_path / "trainers").mkdir()
    (tmp_path / "trainers/__init__.py").write_text('MINE = "user"\n')
    (tmp_path / "main.py").write_text(USER_TRAINERS)
    python = str(core_venv / "bin/python") if where == "core venv" else sys.executable
    done = run([python, "main.py"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok curvewatch.tracking.tracker"


def test_every_extra_module_is_listed_with_its_extra() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    bundles = {"all", "dev"}  # extras made of other extras
    assert set(EXTRA_MODULES.values()) == set(extras) - bundles
    for extra in set(extras) - bundles:
        assert sum(1 for e in EXTRA_MODULES.values() if e == extra) == len(extras[extra]), extra
