"""Framework integrations: each translates a framework's hooks into curvewatch calls and nothing else.

    from curvewatch.integrations import CurvewatchLogger      # Lightning: Trainer(logger=CurvewatchLogger(...))
    from curvewatch.integrations import CurvewatchCallback    # transformers: callbacks=[CurvewatchCallback(...)]
    from curvewatch.integrations.tensorboard import import_logdir, LogdirFollower   # import-tb / tail-tb

A framework is imported only when its integration is; a missing one raises an ImportError naming the
extra that installs it (``pip install 'curvewatch[lightning]'``, ``[transformers]``, ``[tensorboard]``).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CurvewatchCallback", "CurvewatchLogger"]

_MODULES = {
    "CurvewatchCallback": "curvewatch.integrations.transformers",
    "CurvewatchLogger": "curvewatch.integrations.lightning",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'curvewatch.integrations' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
