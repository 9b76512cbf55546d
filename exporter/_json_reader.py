"""One bounded, strict JSON reader for every file curvewatch reads back (archive files, curves documents).

Guarantees (each has a test named after it in ``tests/test_hardening_json.py``):
- deep_nesting_is_refused_before_parsing: more than ``MAX_DEPTH`` nested arrays/objects raise
  ``JSONReadError`` (never ``RecursionError``), decided by a vectorised scan before ``json`` recurses.
- oversized_input_is_refused_without_reading_it_all: a file larger than ``max_bytes`` is refused after
  reading ``max_bytes + 1`` bytes.
- strict_constants_only: ``NaN``/``Infinity`` literals and numbers that overflow a float (``1e400``) are
  refused; so are integers longer than ``MAX_INT_DIGITS`` digits (they would overflow one too).
- memory_is_bounded_by_the_file_size: the checks scan the bytes a chunk at a time (a few MB whatever the
  size, plus the bytes outside strings) and the bytes are dropped before the parse, so the peak is about
  twice the file for strings and about 4x for an array of floats as Python writes them
  (``bench/bench_json_memory.py``); a file of more than ``MAX_VALUES`` values is refused before the parse,
  so no admitted file (at most ``MAX_BYTES``) needs more than about 1.3 GB.
- invalid_utf8_is_a_read_error: bytes that are not UTF-8 (or a UTF-8 byte-order mark) raise
  ``JSONReadError``, never ``UnicodeDecodeError``.
- large_documents_load_in_linear_time: the checks and the parse are single passes in C (``re`` and
  ``numpy``, then ``json``); no Python code runs per value.

Callers turn ``JSONReadError`` (a ``ValueError``) into their own error with a sentence saying what to do.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_INT_DIGITS", "MAX_VALUES", "JSONReadError", "loads_strict", "read_json_file"]

MAX_DEPTH = 64  # nesting of arrays and objects: curvewatch's own files need fewer than 10
MAX_BYTES = 256 * 1024 * 1024  # a curves document of 50 MB loads in seconds; anything past this is refused
# Arrays, objects and their elements (about one per comma or opening bracket): the parsed value costs up
# to ~40 bytes each (a Python float or int and its list slot), so this caps it at ~0.7 GB. A 50 MB curves
# document holds about 3 million.
MAX_VALUES = 1 << 24
# Integers longer than this overflow a float. Not less: PostgreSQL's jsonb writes a float such as 1.09e35
# as the 36-digit integer 108726936675192520000000000000000000, so a stored curve may hold such integers.
MAX_INT_DIGITS = 308
# A number overflows only if its integer digits plus its exponent reach 309: with an exponent under 100 it
# has more than this many digits in a row; the pre-filter looks closer at those and at 3-digit exponents.
_LONG_RUN = 200

_STEP = np.zeros(256, dtype=np.int8)  # +1 for an opening bracket, -1 for a closing one
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
# Numbers that may overflow a float or exceed MAX_INT_DIGITS: a long integer part, or an exponent >= 100.
_SUSPECT_NUMBER = re.compile(
    rb"(?<![0-9.eE+-])-?(?:[0-9]{%d,}(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|[0-9]+(?:\.[0-9]+)?[eE]\+?0*[1-9][0-9]{2,})"
    % (_LONG_RUN + 1)
)


class JSONReadError(ValueError):
    """The bytes are not a strict, bounded JSON text; the message says why (no file name: the caller adds it)."""


def _refuse_constant(name: str) -> Any:
    raise JSONReadError(f"it contains the literal {name}, which strict JSON has no place for")


def _may_hold_big_numbers(raw: np.ndarray) -> bool:
    """A vectorised pre-filter: a run of more than ``_LONG_RUN`` digits, or an exponent of 3+ digits."""
    raw = np.concatenate([raw, np.zeros(5, dtype=np.uint8)])  # room to look past the last byte
    digit = np.zeros(raw.size + 1, dtype=np.int8)
    digit[1:] = (raw >= 48) & (raw <= 57)
    edges = np.flatnonzero(np.diff(digit))  # run starts and ends alternate (the padding ends the last run)
    if edges.size and int((edges[1::2] - edges[::2]).max()) > _LONG_RUN:
        return True
    at = np.flatnonzero((raw == ord("e")) | (raw == ord("E")))
    if not at.size:
        return False
    is_digit = digit[1:].astype(bool)
    first = at + 1 + (raw[at + 1] == ord("+"))
    big = is_digit[first] & is_digit[first + 1] & is_digit[first + 2]
    return bool(big.any())


def _check_numbers(bare: bytes) -> None:
    """Refuse integers past ``MAX_INT_DIGITS`` digits and floats that overflow (strings already removed)."""
    if not _may_hold_big_numbers(np.frombuffer(bare, dtype=np.uint8)):
        return
    for match in _SUSPECT_NUMBER.finditer(bare):
        token = match.group().decode("ascii")
        if not any(c in token for c in ".eE"):
            if len(token.lstrip("-")) <= MAX_INT_DIGITS:
                continue  # a long integer that a float still holds (jsonb writes large floats so)
            raise JSONReadError(f"the integer {token[:40]}... has more than {MAX_INT_DIGITS} digits")
        if not math.isfinite(float(token)):
            raise JSONReadError(f"the number {token[:40]} is too large for a 64-bit float")


_CHUNK = 1 << 20  # bytes scanned at a time: the scan's own memory is a few of these, whatever the file size
_TAIL = 256  # bytes of the previous chunk kept in front of the next, so no number is cut at a chunk edge


class _Outside:
    """The bytes outside JSON strings (each string left as ``""``), scanned a chunk at a time.

    A quote ends a string unless an odd run of backslashes precedes it; the state carried from one
    chunk to the next is whether the scan is inside a string and the length of the backslash run.
    Memory: the chunk's masks (a few bytes per byte of one chunk) and the bytes outside strings.
    """

    def __init__(self) -> None:
        self.in_string = False
        self.backslashes = 0

    def strip(self, chunk: np.ndarray) -> np.ndarray:
        n = chunk.size
        slash = chunk == 0x5C
        pos = np.arange(n, dtype=np.int32)
        # the latest position at or before each byte that is not a backslash (the run before the chunk
        # counts as backslashes at negative positions)
        last_plain = np.maximum.accumulate(np.where(slash, np.int32(-1 - self.backslashes), pos))
        quotes = np.flatnonzero(chunk == 0x22)
        before = quotes - 1
        run = np.where(before >= 0, before - last_plain[np.maximum(before, 0)], self.backslashes)
        real = quotes[run % 2 == 0]  # quotes that open or close a string
        toggles = np.zeros(n, dtype=np.int8)
        toggles[real] = 1
        inside = (np.cumsum(toggles, dtype=np.int32) + self.in_string) % 2 == 1
        keep = ~inside
        keep[real] = True  # the quotes themselves stay: each string becomes ""
        self.in_string = bool((real.size + self.in_string) % 2)
        self.backslashes = n - 1 - int(last_plain[-1]) if n else self.backslashes
        return chunk[keep]


def _scan(data: bytes, max_depth: int) -> None:
    """Refuse nesting past ``max_depth`` and numbers a float cannot hold, in one chunked pass over
    the bytes outside strings (memory: a few chunks, plus those bytes when a number looks too long)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    outside = _Outside()
    depth = deepest = values = 0
    tail = b""
    parts: list[bytes] = []
    suspect = False
    for at in range(0, raw.size, _CHUNK):
        bare = outside.strip(raw[at:at + _CHUNK])
        steps = _STEP[bare]
        values += int(np.count_nonzero(bare == 0x2C)) + int(np.count_nonzero(steps == 1))
        steps = steps[steps != 0].astype(np.int32)
        if steps.size:
            levels = np.cumsum(steps) + depth
            deepest = max(deepest, int(levels.max()))
            depth = int(levels[-1])
        piece = bare.tobytes()
        parts.append(piece)
        suspect = suspect or _may_hold_big_numbers(np.frombuffer(tail + piece, dtype=np.uint8))
        tail = (tail + piece)[-_TAIL:]
    if values > MAX_VALUES:
        raise JSONReadError(f"it holds more than {MAX_VALUES} values, more than any curvewatch file needs")
    if deepest > max_depth:
        raise JSONReadError(f"it nests {deepest} levels deep, more than the {max_depth} allowed")
    if suspect:
        _check_numbers(b"".join(parts))


def _checked_text(data: bytes | str, max_bytes: int, max_depth: int) -> str:
    """The text of ``data`` once it passed every check (size, byte-order mark, UTF-8, depth, numbers)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise JSONReadError(f"it is larger than {max_bytes} bytes")
    if data.startswith(b"\xef\xbb\xbf"):
        raise JSONReadError("it starts with a byte-order mark; save it as UTF-8 without one")
    _scan(data, max_depth)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONReadError(f"it is not UTF-8 (byte {exc.start}: {exc.reason})") from None


def _parse(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except JSONReadError:
        raise
    except RecursionError:  # unreachable after the depth scan; kept so no reader ever sees one
        raise JSONReadError("it nests too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError, and int() past Python's digit limit
        raise JSONReadError(f"it is not valid JSON ({exc})") from None


def loads_strict(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON within the limits; raise ``JSONReadError`` with the reason otherwise."""
    return _parse(_checked_text(data, max_bytes, max_depth))


def read_json_file(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """``loads_strict`` of a file's bytes, reading at most ``max_bytes + 1`` of them.

    ``FileNotFoundError`` passes through (callers say what a missing file means); every other
    problem, including other ``OSError``s, is a ``JSONReadError``.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise JSONReadError(f"it cannot be read ({exc.strerror or exc})") from None
    text = _checked_text(data, max_bytes, max_depth)
    del data  # the bytes go before the parse: the peak holds the text and the parsed value, not all three
    return _parse(text)
