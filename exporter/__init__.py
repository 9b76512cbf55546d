"""curvewatch: watch, keep and audit PyTorch training curves.

The public API of every area is re-exported here (see docs/ARCHITECTURE.md for where each
concept lives): the recorder, the Prometheus exposure, the model archive and the tracker for
your own training loops (``curvewatch.RunTracker``). The monitoring generator
(``curvewatch.monitoring``) needs the ``monitoring`` extra and is imported on its own; the
bundled sales forecasters live in ``curvewatch.trainers`` (the ``trainers`` extra).
"""

from .archive import *  # noqa: F403
from .archive import __all__ as _archive_all
from .prom import *  # noqa: F403
from .prom import __all__ as _prom_all
from .recorder import *  # noqa: F403
from .recorder import __all__ as _recorder_all
from .tracking import *  # noqa: F403
from .tracking import __all__ as _tracking_all

__all__ = sorted({*_recorder_all, *_prom_all, *_archive_all, *_tracking_all})
__version__ = "0.1.0"
