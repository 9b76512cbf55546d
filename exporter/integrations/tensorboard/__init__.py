"""TensorBoard logdirs without a code change: ``import-tb`` archives their runs, ``tail-tb`` serves them live.

Event files are read with TensorBoard's own record loader (the ``tensorboard`` extra:
``pip install 'curvewatch[tensorboard]'``).
"""

from .errors import TensorBoardInputError
from .events import EventFileReader
from .importer import ImportedRun, archive_runs, import_logdir, read_logdir, read_run, record_run
from .runs import find_runs
from .scalars import Restart, RunScalars
from .tail import LogdirFollower, RunFollower

__all__ = [
    "EventFileReader",
    "ImportedRun",
    "LogdirFollower",
    "Restart",
    "RunFollower",
    "RunScalars",
    "TensorBoardInputError",
    "archive_runs",
    "find_runs",
    "import_logdir",
    "read_logdir",
    "read_run",
    "record_run",
]
