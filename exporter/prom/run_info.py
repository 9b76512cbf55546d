"""Who a run is: the labels of ``curvewatch_run_info``, validated once, and where the rank comes from."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from curvewatch.prom._names import INFO_LABELS, LOCAL_RANK_ENV, MAX_LABEL_VALUE_LENGTH, RANK_ENV
from curvewatch.prom.errors import InvalidLabelValueError

__all__ = ["RunInfo", "local_rank_from_env", "rank_from_env"]


def _int_env(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"The environment variable {name}={raw!r} is not an integer; unset it or fix it.") from None
    if value < 0:
        raise ValueError(f"The environment variable {name}={raw!r} is negative; a rank is 0 or more.")
    return value


def rank_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The global rank: ``RANK``, else ``LOCAL_RANK``, else 0 (torchrun sets both)."""
    environ = os.environ if environ is None else environ
    for name in (RANK_ENV, LOCAL_RANK_ENV):
        value = _int_env(environ, name)
        if value is not None:
            return value
    return 0


def local_rank_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The rank on this host: ``LOCAL_RANK``, else 0; the offset added to the base port."""
    value = _int_env(os.environ if environ is None else environ, LOCAL_RANK_ENV)
    return 0 if value is None else value


def _check_label_value(name: str, value: object, *, required: bool = False) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidLabelValueError(f"RunInfo.{name} must be a string, got {type(value).__name__} {value!r}.")
    if required and not value:
        raise InvalidLabelValueError(f"RunInfo.{name} must not be empty.")
    if len(value) > MAX_LABEL_VALUE_LENGTH:
        raise InvalidLabelValueError(
            f"RunInfo.{name} is {len(value)} characters long; a label value may have at most {MAX_LABEL_VALUE_LENGTH}."
        )
    if not value.isprintable():
        raise InvalidLabelValueError(
            f"RunInfo.{name}={value!r} contains a non-printable character (newline, tab, control "
            f"character); use printable characters only."
        )
    return value


@dataclass(frozen=True)
class RunInfo:
    """The identity of one run, exposed as ``curvewatch_run_info`` and as the labels of every series.

    >>> RunInfo(run_id="mlp-2024-06-01", model_type="mlp", mode="train", version=3).version
    '3'

    Every field except ``rank`` becomes a label value: it must be printable and at most
    ``MAX_LABEL_VALUE_LENGTH`` characters (integers are turned into strings); ``run_id`` must not be
    empty. A bad field raises :class:`InvalidLabelValueError` naming it. ``host`` defaults to this
    machine's name and ``rank`` to the environment (``RANK``, else ``LOCAL_RANK``, else 0).
    """

    run_id: str
    model_type: str = ""
    mode: str = ""
    scope: str = ""
    version: str = ""
    experiment: str = ""
    host: str = field(default_factory=socket.gethostname)
    rank: int = field(default_factory=rank_from_env)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name != "rank":
                value = _check_label_value(f.name, getattr(self, f.name), required=f.name == "run_id")
                object.__setattr__(self, f.name, value)
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 0:
            raise InvalidLabelValueError(f"RunInfo.rank must be an integer 0 or more, got {self.rank!r}.")

    def info_labels(self) -> dict[str, str]:
        """The extra labels of ``curvewatch_run_info``."""
        return {name: getattr(self, name) for name in INFO_LABELS}
