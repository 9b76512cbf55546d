"""Importing curvewatch never needs a framework; using an integration without it names the extra to install."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from curvewatch.extras import EXTRA_MODULES

HIDE = "import sys; sys.modules[{module!r}] = None  # as if it were not installed\n"


@pytest.mark.parametrize(("integration", "module", "extra"), [
    ("curvewatch.integrations.lightning", "lightning", "lightning"),
    ("curvewatch.integrations.transformers", "transformers", "transformers"),
    ("curvewatch.integrations.tensorboard.events", "tensorboard", "tensorboard"),
])
def test_a_missing_framework_is_named_with_its_extra(integration: str, module: str, extra: str) -> None:
    code = HIDE.format(module=module) + (
        "import curvewatch, curvewatch.integrations, curvewatch.cli\n"
        "curvewatch.cli.build_parser()\n"
        f"from curvewatch.integrations.tensorboard.events import EventFileReader\n"
        f"import {integration}\n"
        "EventFileReader('x')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("curvewatch.extras.MissingExtraError: ") and f"the '{extra}' extra" in last, result.stderr
    assert f"pip install 'curvewatch[{extra}]'" in last


def test_every_integration_extra_module_is_listed_with_its_extra() -> None:
    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    for extra in ("lightning", "transformers", "tensorboard"):
        listed = sorted(m for m, e in EXTRA_MODULES.items() if e == extra)
        required = sorted(re.split(r"[=<>\[ ]", dep)[0] for dep in extras["optional-dependencies"][extra])
        assert listed == required, extra


def test_the_integrations_package_exports_each_adapter_lazily() -> None:
    code = ("import sys, curvewatch.integrations as i\n"
            "assert 'lightning' not in sys.modules and 'transformers' not in sys.modules\n"
            "print(i.CurvewatchLogger.__module__, i.CurvewatchCallback.__module__)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["curvewatch.integrations.lightning", "curvewatch.integrations.transformers"]
