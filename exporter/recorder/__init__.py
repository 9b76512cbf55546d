"""The streaming curve recorder and its strict-JSON document."""

from .best import BestPoint
from .document import (
    SCHEMA_PATH,
    SCHEMA_VERSION,
    decode_document,
    encode_document,
    load_document,
    validate_document,
)
from .errors import CurveDocumentError, RecorderError
from .live import BestLive, LineLive, LiveView
from .plot import save_png
from .recorder import CurveRecorder

__all__ = [
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "BestLive",
    "BestPoint",
    "CurveDocumentError",
    "CurveRecorder",
    "LineLive",
    "LiveView",
    "RecorderError",
    "decode_document",
    "encode_document",
    "load_document",
    "save_png",
    "validate_document",
]
