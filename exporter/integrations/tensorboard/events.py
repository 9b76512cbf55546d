"""Scalars out of one TensorBoard event file, read with TensorBoard's own record loader.

    reader = EventFileReader(path)
    for step, tag, value in reader.read():    # every scalar written so far, in file order
        ...
    reader.read()                              # later: only what was appended since
    reader.problem                             # a sentence when the file stops short, else None

``RawEventFileLoader`` (``tensorboard.backend.event_processing.event_file_loader``) reads the
records and checks their CRCs; it stops quietly at an incomplete or corrupt record (a growing file
is completed later). This module counts the bytes it consumed, so a file that ends short is
reported, not silently cut: ``problem`` says where it stopped. Scalars are every summary value
with a ``simple_value`` (``torch.utils.tensorboard``, TF1) or a 0-d tensor of the ``scalars``
plugin (TF2 ``tf.summary.scalar``, ``tensorboard.summary``); other values (images, histograms,
text ...) are counted per tag in ``other_tags`` and not read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from curvewatch.integrations._extras import require

__all__ = ["EVENT_FILE_MARKER", "EventFileReader", "is_event_file"]

EVENT_FILE_MARKER = "tfevents"  # TensorBoard's own test (io_wrapper.IsSummaryEventsFile)
RECORD_OVERHEAD = 16  # length (8) + length CRC (4) + data CRC (4) around each record
SCALARS_PLUGIN = "scalars"
_WHAT = "Reading TensorBoard event files"  # the start of the sentence when tensorboard is missing


def is_event_file(name: str) -> bool:
    return EVENT_FILE_MARKER in name


class EventFileReader:
    """Follows one event file; each :meth:`read` yields the ``(step, tag, value)`` scalars added since."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        loader_mod = require("tensorboard.backend.event_processing.event_file_loader", _WHAT)
        self._event_pb2 = require("tensorboard.compat.proto.event_pb2", _WHAT)
        self._tensor_util = require("tensorboard.util.tensor_util", _WHAT)
        self.path = Path(path)
        self._loader = loader_mod.RawEventFileLoader(str(self.path))
        self.consumed = 0  # bytes of complete, valid records read
        self.events = 0
        self.plugins: dict[str, str] = {}  # tag -> plugin name, from the tag's first value
        self.other_tags: dict[str, str] = {}  # tag -> kind, for values that are not scalars

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return self.consumed

    @property
    def problem(self) -> str | None:
        """A sentence when bytes after the last complete record cannot be read (yet), else None."""
        size = self.size
        if size <= self.consumed:
            return None
        return (f"{self.path} stops short: its last {size - self.consumed} of {size} bytes are not a complete "
                f"event record (a truncated or corrupt file, or one still being written); the "
                f"{self.events} events before them were read.")

    def read(self) -> Iterator[tuple[int, str, float]]:
        """Yield ``(step, tag, value)`` for every scalar in the records appended since the last call."""
        parse = self._event_pb2.Event.FromString
        for record in self._loader.Load():
            self.consumed += len(record) + RECORD_OVERHEAD
            self.events += 1
            event = parse(record)
            if event.WhichOneof("what") != "summary":
                continue
            step = int(event.step)
            for value in event.summary.value:
                scalar = self._scalar(value)
                if scalar is not None:
                    yield step, value.tag, scalar

    def _scalar(self, value) -> float | None:
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            return float(value.simple_value)
        tag = value.tag
        plugin = value.metadata.plugin_data.plugin_name
        if plugin:
            self.plugins.setdefault(tag, plugin)
        else:
            plugin = self.plugins.get(tag, "")
        if kind == "tensor" and plugin == SCALARS_PLUGIN:
            array = self._tensor_util.make_ndarray(value.tensor)
            if array.size == 1:
                return float(array.reshape(()))
        self.other_tags.setdefault(tag, plugin or kind or "unknown")
        return None
