"""The archive: versioned model directories, ``versions.json`` under a file lock, the
``model_versions`` table (SQLite or PostgreSQL), manifests and verification. See ``naming`` for
the layout."""

from .archive import COMMIT_STAGES, ModelArchive
from .atomic import atomic_torch_save
from .errors import (
    ArchiveError,
    IdentifierError,
    ManifestMismatchError,
    RegistryCorruptError,
    VersionNotFoundError,
    VersionStateError,
)
from .loading import load_model, load_verified
from .naming import ModelKey, archive_path
from .rebuild import RebuildResult
from .records import VersionHandle, VersionRecord
from .storage import local_copy

__all__ = [
    "COMMIT_STAGES",
    "ArchiveError",
    "IdentifierError",
    "ManifestMismatchError",
    "ModelArchive",
    "ModelKey",
    "RebuildResult",
    "RegistryCorruptError",
    "VersionHandle",
    "VersionNotFoundError",
    "VersionRecord",
    "VersionStateError",
    "archive_path",
    "atomic_torch_save",
    "load_model",
    "load_verified",
    "local_copy",
]
