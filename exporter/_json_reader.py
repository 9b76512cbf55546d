"""One bounded, strict JSON reader for every file curvewatch reads back (archive files, curves documents).

Guarantees (each has a test named after it in ``tests/test_hardening_json.py``):
- deep_nesting_is_refused_before_parsing: more than ``MAX_DEPTH`` nested arrays/objects raise
  ``JSONReadError`` (never ``RecursionError``), decided by a vectorised scan before ``json`` recurses.
- oversized_input_is_refused_without_reading_it_all: a file larger than ``max_bytes`` is refused after
  reading ``max_bytes + 1`` bytes.
- strict_constants_only: ``NaN``/``Infinity`` literals and numbers that overflow a float (``1e400``) are
  refused; so are integers longer than ``MAX_INT_DIGITS`` digits (they would overflow one too).
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

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_INT_DIGITS", "JSONReadError", "loads_strict", "read_json_file"]

MAX_DEPTH = 64  # nesting of arrays and objects: curvewatch's own files need fewer than 10
MAX_BYTES = 512 * 1024 * 1024  # a curves document of 50 MB loads in seconds; anything past this is refused
# Integers longer than this overflow a float. Not less: PostgreSQL's jsonb writes a float such as 1.09e35
# as the 36-digit integer 108726936675192520000000000000000000, so a stored curve may hold such integers.
MAX_INT_DIGITS = 308
# A number overflows only if its integer digits plus its exponent reach 309: with an exponent under 100 it
# has more than this many digits in a row; the pre-filter looks closer at those and at 3-digit exponents.
_LONG_RUN = 200

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
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


def _depth(bare: bytes) -> int:
    """The deepest nesting of arrays/objects (strings already removed), in one numpy pass."""
    steps = _STEP[np.frombuffer(bare, dtype=np.uint8)]
    steps = steps[steps != 0].astype(np.int32)
    return int(np.cumsum(steps).max()) if steps.size else 0


def loads_strict(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON within the limits; raise ``JSONReadError`` with the reason otherwise."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise JSONReadError(f"it is larger than {max_bytes} bytes")
    if data.startswith(b"\xef\xbb\xbf"):
        raise JSONReadError("it starts with a byte-order mark; save it as UTF-8 without one")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONReadError(f"it is not UTF-8 (byte {exc.start}: {exc.reason})") from None
    bare = _STRING.sub(b'""', data) if b'"' in data else data
    depth = _depth(bare)
    if depth > max_depth:
        raise JSONReadError(f"it nests {depth} levels deep, more than the {max_depth} allowed")
    _check_numbers(bare)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except JSONReadError:
        raise
    except RecursionError:  # unreachable after the depth scan; kept so no reader ever sees one
        raise JSONReadError("it nests too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError, and int() past Python's digit limit
        raise JSONReadError(f"it is not valid JSON ({exc})") from None


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
    return loads_strict(data, max_bytes=max_bytes, max_depth=max_depth)
