"""Errors raised by the archive; each message says what went wrong and what to do next."""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "IdentifierError",
    "ManifestMismatchError",
    "RegistryCorruptError",
    "VersionNotFoundError",
    "VersionStateError",
]


class ArchiveError(Exception):
    """Base class of every archive error."""


class IdentifierError(ArchiveError, ValueError):
    """A field of a model key (product id, store id, scope, aggregation, model type) is not allowed."""

    def __init__(self, field: str, value: object, why: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field} {value!r} is not allowed: {why}.")


class ManifestMismatchError(ArchiveError):
    """A file about to be loaded differs from what the version's manifest recorded at commit."""


class RegistryCorruptError(ArchiveError):
    """``versions.json`` is missing or unreadable; ``curvewatch versions rebuild`` restores it."""


class VersionNotFoundError(ArchiveError, LookupError):
    """No such identifier or version in the registry."""

    @classmethod
    def of(cls, identifier: str, version: object) -> VersionNotFoundError:
        """The error for a missing ``version`` of ``identifier``."""
        return cls(f"{identifier} has no version {version}; see `curvewatch versions list`.")


class VersionStateError(ArchiveError):
    """The version is not in the state the operation needs (e.g. committing a version twice)."""
