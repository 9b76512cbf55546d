"""curvewatch: watch, keep and audit PyTorch training curves.

The public API of every area is re-exported here (see docs/ARCHITECTURE.md for where each
concept lives): the recorder, the Prometheus exposure, the model archive and the tracker for
your own training loops (``curvewatch.RunTracker``, imported on first use) and the monitoring of
served versions (``curvewatch.serving``: monitor, router, HTTP service; docs/SERVING.md). The monitoring
generator (``curvewatch.monitoring``) needs the ``monitoring`` extra and is imported on its own;
the bundled sales forecasters live in ``curvewatch.trainers`` (the ``trainers`` extra).
"""

from typing import Any

from .archive import *  # noqa: F403
from .archive import __all__ as _archive_all
from .prom import *  # noqa: F403
from .prom import __all__ as _prom_all
from .recorder import *  # noqa: F403
from .recorder import __all__ as _recorder_all
from .serving import *  # noqa: F403
from .serving import __all__ as _serving_all
from .signals import *  # noqa: F403
from .signals import __all__ as _signals_all

# the tracking package's public names, imported on first use (PEP 562): `import curvewatch` stays as light
_TRACKING = ("FAMILIES", "Chart", "RunTracker", "family_of")

__all__ = sorted({*_recorder_all, *_prom_all, *_archive_all, *_serving_all, *_signals_all, *_TRACKING})
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _TRACKING:
        from . import tracking

        value = getattr(tracking, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'curvewatch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
