"""curvewatch: watch, keep and audit PyTorch training curves.

The public API of every area is re-exported here; see docs/ARCHITECTURE.md for where each
concept lives.
"""

from .recorder import *  # noqa: F403
from .recorder import __all__ as _recorder_all

__all__ = sorted(_recorder_all)
__version__ = "0.1.0"
