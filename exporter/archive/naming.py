"""Every naming rule of the archive, and the one function that builds paths from them.

Layout under the root (``saved_models/`` by default)::

    versions.json                                     identifier -> latest version (int)
    product/{product_id}_{scope}/{model_type}/v{N}/   scope: "all" or a store id
    store/{store_id}_{scope}/{model_type}/v{N}/       scope: "all" or a product id
    global/{scope_path}/{aggregation}/{model_type}/v{N}/
        scope_path: "all", "stores/{store_id}", "products/{product_id}", "custom/{store_id}/{product_id}"
    experiments/{experiment}/{model_type}/v{N}/       users' own runs (``ModelKey.experiment``)

Identifiers of the sales keys join the key's fields with ``_``: ``product_P001_all_mlstm``,
``store_S001_P002_transformer``, ``global_all_sum_kan``, ``global_custom_S001_P001_mean_tcn``; their
fields may therefore not contain ``_``. The identifier of an experiment key is its directory,
``experiments/{experiment}/{model_type}`` (``experiments/digits-mlp/resnet_18``): ``/`` separates the two
names, so both may contain ``_``. No field may contain a path separator, ``..``, a control character or
more than ``MAX_FIELD_LENGTH`` characters, start with anything but a letter or digit, or look like a
version directory (``v3``); so an identifier maps to exactly one directory and back, and no key ever
yields a path outside the root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from curvewatch._atomic import TEMP_MARKER as _TEMP_MARKER

from .errors import IdentifierError

__all__ = [
    "ALL_SCOPE",
    "EXPERIMENTS_DIR",
    "CHECKPOINT_BEST_FILE",
    "CHECKPOINT_EPOCH_FILE",
    "CURVES_FILE",
    "FIELD_SEPARATOR",
    "GLOBAL_SCOPES",
    "LAYOUT_DIRS",
    "LOCK_SUFFIX",
    "LOSS_CURVE_FILE",
    "MANIFEST_FILE",
    "MAX_FIELD_LENGTH",
    "MAX_VERSION",
    "METADATA_FILE",
    "MODEL_FILE",
    "MODES",
    "NAME_CHARACTERS",
    "REGISTRY_DB_FILE",
    "ROOT_ID_FILE",
    "RUN_ID_FORMAT",
    "STATES",
    "STATE_COMPLETE",
    "STATE_FAILED",
    "STATE_RESERVED",
    "STATE_TAMPERED",
    "STATUS_FILE",
    "STARTING_VERSION",
    "TEMP_MARKER",
    "VERSIONS_FILE",
    "VERSION_DIR_FORMAT",
    "ModelKey",
    "archive_path",
    "parse_version_dir",
    "validate_field",
    "validate_version",
]

# Files at the root.
VERSIONS_FILE = "versions.json"
LOCK_SUFFIX = ".lock"  # versions.json.lock
REGISTRY_DB_FILE = "curvewatch_registry.sqlite3"  # default SQLite registry, next to the root
ROOT_ID_FILE = "archive_id"  # the root's random id: registry rows record which root allocated them

# A version directory and its files.
STARTING_VERSION = 1
MAX_VERSION = 999_999_999  # nine digits: the v{N} pattern below; enforced where versions are allocated and read
VERSION_DIR_FORMAT = "v{version}"
_VERSION_DIR_RE = re.compile(r"^v([1-9][0-9]{0,8})$")
RUN_ID_FORMAT = "{identifier}-v{version}"
MODEL_FILE = "model.pth"
CHECKPOINT_BEST_FILE = "checkpoint_best.pth"
CHECKPOINT_EPOCH_FILE = "checkpoint_epoch_{epoch}.pth"
LOSS_CURVE_FILE = "loss_curve.png"
METADATA_FILE = "metadata.json"
CURVES_FILE = "curves.json"
MANIFEST_FILE = "manifest.json"  # SHA-256 of every other file but the status marker
STATUS_FILE = "status.json"  # the version's state: reserved / complete / failed (written last)
TEMP_MARKER = _TEMP_MARKER  # in the names of temporary files, which are never part of a version

# A version's states, in the status marker (a directory without a marker counts as reserved).
STATE_RESERVED = "reserved"  # allocated, training or killed: incomplete
STATE_COMPLETE = "complete"  # every file written and in the manifest
STATE_FAILED = "failed"  # the trainer gave up (archive.fail): incomplete
# complete on disk, but its files no longer match its manifest (found by rebuild): indexed so that it is
# listed and audited, never taken as the latest or best version (those are complete ones only)
STATE_TAMPERED = "tampered"
STATES = (STATE_RESERVED, STATE_COMPLETE, STATE_FAILED, STATE_TAMPERED)

# Keys.
MODES = ("product", "store", "global", "experiment")
ALL_SCOPE = "all"
GLOBAL_SCOPES = ("all", "stores", "products", "custom")
EXPERIMENTS_DIR = "experiments"  # experiment keys: experiments/{experiment}/{model_type}
LAYOUT_DIRS = ("product", "store", "global", EXPERIMENTS_DIR)  # the top-level directories of the layout
FIELD_SEPARATOR = "_"  # between the fields of a sales key's identifier
MAX_FIELD_LENGTH = 64
NAME_CHARACTERS = "ASCII letters, digits, '_', '-' and '.', starting with a letter or digit"
SALES_NAME_CHARACTERS = "ASCII letters, digits, '-' and '.', starting with a letter or digit"
_FIELD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _field_problem(value: object, underscore: bool) -> str | None:
    """Why ``value`` is not a valid key field, or None."""
    if not isinstance(value, str):
        return "it must be a string"
    checks = (
        (not value, "it is empty"),
        (len(value) > MAX_FIELD_LENGTH, f"it is longer than {MAX_FIELD_LENGTH} characters"),
        (any(ord(c) < 32 or ord(c) == 127 for c in value), "it contains a control character"),
        ("/" in value or "\\" in value, "it contains a path separator"),
        (".." in value, "it contains '..'"),
        (not underscore and FIELD_SEPARATOR in value, "it contains '_', which separates the fields of an identifier"),
        (not _FIELD_RE.match(value), "it contains a character that is not allowed"),
        (bool(_VERSION_DIR_RE.match(value)), "it looks like a version directory (v1, v2, ...)"),
    )
    return next((why for failed, why in checks if failed), None)


def validate_field(field: str, value: object, *, underscore: bool = False) -> str:
    """Return ``value`` if it is a valid key field, else raise ``IdentifierError`` naming ``field`` and
    listing the allowed characters.

    ``underscore``: whether ``_`` is allowed (experiment keys); sales keys join their fields with it.
    """
    why = _field_problem(value, underscore)
    if why is not None:
        allowed = NAME_CHARACTERS if underscore else SALES_NAME_CHARACTERS
        raise IdentifierError(field, value, f"{why}; use only {allowed}, at most {MAX_FIELD_LENGTH} characters")
    return value


@dataclass(frozen=True)
class ModelKey:
    """What a model was trained on; names its directory and identifier.

    >>> ModelKey.product("P001", scope="all", model_type="mlstm").identifier
    'product_P001_all_mlstm'
    >>> ModelKey.store("S001", scope="P002", model_type="transformer").relative_dir
    'store/S001_P002/transformer'
    >>> ModelKey.global_(scope=("custom", "S001", "P001"), aggregation="sum", model_type="kan").identifier
    'global_custom_S001_P001_sum_kan'
    >>> ModelKey.experiment("digits-mlp", model_type="resnet_18").identifier
    'experiments/digits-mlp/resnet_18'
    """

    mode: str
    model_type: str
    subject: str | None = None  # product id (product), store id (store) or experiment name (experiment)
    scope: tuple[str, ...] = (ALL_SCOPE,)  # ("all",) or (id,); global: ("stores", S), ("custom", S, P), ...
    aggregation: str | None = None  # global mode only

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise IdentifierError("mode", self.mode, f"use one of {', '.join(MODES)}")
        if not isinstance(self.scope, tuple):
            raise IdentifierError("scope", self.scope, "use a string or a tuple of strings")
        if self.mode == "experiment":
            self._check_experiment()
            return
        validate_field("model_type", self.model_type)
        if self.mode == "global":
            self._check_global_scope()
            validate_field("aggregation", self.aggregation)
            if self.subject is not None:
                raise IdentifierError("subject", self.subject, "global keys have no product or store id")
        else:
            subject_field = "product_id" if self.mode == "product" else "store_id"
            validate_field(subject_field, self.subject)
            if len(self.scope) != 1:
                raise IdentifierError("scope", self.scope, f"use '{ALL_SCOPE}' or one id")
            validate_field("scope", self.scope[0])
            if self.aggregation is not None:
                raise IdentifierError("aggregation", self.aggregation, "only global keys have one")

    def _check_experiment(self) -> None:
        validate_field("experiment", self.subject, underscore=True)
        validate_field("model_type", self.model_type, underscore=True)
        if self.scope != ():
            raise IdentifierError("scope", self.scope, "experiment keys have no scope")
        if self.aggregation is not None:
            raise IdentifierError("aggregation", self.aggregation, "only global keys have one")

    def _check_global_scope(self) -> None:
        kind, ids = self.scope[0] if self.scope else None, self.scope[1:]
        expected = {
            "all": (),
            "stores": ("store_id",),
            "products": ("product_id",),
            "custom": ("store_id", "product_id"),
        }
        if kind not in expected:
            raise IdentifierError("scope", self.scope, f"use one of {', '.join(GLOBAL_SCOPES)}")
        if len(ids) != len(expected[kind]):
            need = " and ".join(expected[kind]) or "no id"
            raise IdentifierError("scope", self.scope, f"scope '{kind}' needs {need}")
        for field, value in zip(expected[kind], ids, strict=True):
            validate_field(field, value)

    @classmethod
    def product(cls, product_id: str, *, scope: str = ALL_SCOPE, model_type: str) -> ModelKey:
        """A product-mode key; ``scope`` is ``"all"`` (all stores aggregated) or a store id."""
        return cls("product", model_type, product_id, (scope,))

    @classmethod
    def store(cls, store_id: str, *, scope: str = ALL_SCOPE, model_type: str) -> ModelKey:
        """A store-mode key; ``scope`` is ``"all"`` (all products) or a product id."""
        return cls("store", model_type, store_id, (scope,))

    @classmethod
    def global_(
        cls,
        *,
        scope: str | tuple[str, ...] = ALL_SCOPE,
        aggregation: str,
        model_type: str,
        store_id: str | None = None,
        product_id: str | None = None,
    ) -> ModelKey:
        """A global key: ``scope`` is ``"all"``, ``("stores", S)``, ``("products", P)``, ``("custom", S, P)``,
        or the kind alone with ``store_id``/``product_id`` given by keyword."""
        if isinstance(scope, str):
            ids = {
                "all": (),
                "stores": (store_id,),
                "products": (product_id,),
                "custom": (store_id, product_id),
            }
            scope = (scope, *ids.get(scope, ()))
        if not isinstance(scope, (tuple, list)):
            raise IdentifierError("scope", scope, "use a string or a tuple of strings")
        return cls("global", model_type, None, tuple(scope), aggregation)

    @classmethod
    def experiment(cls, experiment: str, *, model_type: str) -> ModelKey:
        """A key for a user's own runs, ``experiments/{experiment}/{model_type}/v{N}/``; both names may use
        ASCII letters, digits, ``_``, ``-`` and ``.`` (e.g. ``resnet_18``, ``bert-base.v2``)."""
        return cls("experiment", model_type, experiment, ())

    @property
    def _middle(self) -> tuple[str, ...]:
        if self.mode == "global":
            return (*self.scope, self.aggregation or "")
        return (self.subject or "", *self.scope)

    @property
    def identifier(self) -> str:
        """``{mode}_{fields...}_{model_type}``, e.g. ``product_P001_all_mlstm``; an experiment key's is
        its directory, e.g. ``experiments/digits-mlp/resnet_18``."""
        if self.mode == "experiment":
            return self.relative_dir
        return FIELD_SEPARATOR.join((self.mode, *self._middle, self.model_type))

    @property
    def relative_dir(self) -> str:
        """The key's directory under the root, ``/``-separated, e.g. ``product/P001_all/mlstm``."""
        if self.mode == "experiment":
            return "/".join((EXPERIMENTS_DIR, self.subject or "", self.model_type))
        if self.mode == "global":
            return "/".join(("global", *self._middle, self.model_type))
        return "/".join((self.mode, FIELD_SEPARATOR.join(self._middle), self.model_type))

    @classmethod
    def parse(cls, identifier: str) -> ModelKey:
        """The key whose ``identifier`` this is; raises ``IdentifierError`` if there is none."""
        parts = identifier.split(FIELD_SEPARATOR) if isinstance(identifier, str) else []
        mode = parts[0] if parts else None
        try:
            if isinstance(identifier, str) and identifier.startswith(EXPERIMENTS_DIR + "/"):
                named = identifier.split("/")
                if len(named) == 3:
                    return cls.experiment(named[1], model_type=named[2])
            elif mode in ("product", "store") and len(parts) == 4:
                return cls(mode, parts[3], parts[1], (parts[2],))
            elif mode == "global" and len(parts) >= 4:
                return cls("global", parts[-1], None, tuple(parts[1:-2]), parts[-2])
        except IdentifierError as exc:
            raise IdentifierError("identifier", identifier, str(exc).rstrip(".")) from exc
        raise IdentifierError(
            "identifier",
            identifier,
            "expected product_{product}_{scope}_{type}, store_{store}_{scope}_{type}, "
            "global_{scope...}_{aggregation}_{type} or experiments/{experiment}/{type}",
        )

    @classmethod
    def from_relative_dir(cls, relative_dir: str) -> ModelKey:
        """The key whose ``relative_dir`` this is (used by rebuild); raises ``IdentifierError`` otherwise."""
        parts = relative_dir.strip("/").split("/")
        if parts[0] == EXPERIMENTS_DIR:
            key = cls.parse("/".join(parts))
        elif parts[0] in ("product", "store") and len(parts) == 3:
            key = cls.parse(FIELD_SEPARATOR.join((parts[0], parts[1], parts[2])))
        elif parts[0] == "global":
            key = cls.parse(FIELD_SEPARATOR.join(parts))
        else:
            raise IdentifierError("directory", relative_dir, "it is not a model directory of the archive")
        if key.relative_dir != "/".join(parts):
            raise IdentifierError("directory", relative_dir, "it is not a model directory of the archive")
        return key


def validate_version(value: object) -> int:
    """``value`` if it is a version number (an int from ``STARTING_VERSION`` to ``MAX_VERSION``), else
    ``IdentifierError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not STARTING_VERSION <= value <= MAX_VERSION:
        raise IdentifierError("version", value, f"use an integer from {STARTING_VERSION} to {MAX_VERSION}")
    return value


def parse_version_dir(name: str) -> int | None:
    """The ``N`` of a ``v{N}`` directory name, or ``None`` if ``name`` is not one."""
    match = _VERSION_DIR_RE.match(name)
    return int(match.group(1)) if match else None


def archive_path(
    root: str | Path, key: ModelKey | None = None, version: int | None = None, filename: str | None = None
) -> Path:
    """The one function that builds archive paths: root [/ key dir [/ v{version} [/ filename]]].

    The result is always inside ``root``; anything else raises ``IdentifierError``.
    """
    root = Path(root).absolute()
    path = root
    if key is not None:
        path = path.joinpath(*key.relative_dir.split("/"))
        if version is not None:
            validate_version(version)
            path = path / VERSION_DIR_FORMAT.format(version=version)
    if filename is not None:
        bad = not isinstance(filename, str) or filename in ("", ".", "..") or any(ord(c) < 32 for c in filename)
        if bad or "/" in filename or "\\" in filename:
            raise IdentifierError("filename", filename, "use a plain file name")
        path = path / filename
    if not path.resolve().is_relative_to(root.resolve()):
        raise IdentifierError("path", str(path), f"it is outside the archive root {root}")
    return path
