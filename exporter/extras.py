"""Which optional extra provides which import, and the sentence a missing one gets.

    try:
        import tqdm
    except ModuleNotFoundError as exc:
        raise MissingExtraError.of(exc) from exc   # "... needs the 'trainers' extra ..."

The core (``pip install curvewatch``) records, serves and archives runs; ``pyproject.toml``'s extras add
the rest. ``EXTRA_MODULES`` must name every top-level module an extra brings (tests check it against
``pyproject.toml``).
"""

from __future__ import annotations

__all__ = ["EXTRA_MODULES", "MissingExtraError", "extra_for"]

# top-level import name -> the extra that installs it
EXTRA_MODULES = {
    "tqdm": "trainers",
    "xlstm": "trainers",
    "pytorch_tcn": "trainers",
    "psycopg": "postgres",
    "grafana_foundation_sdk": "monitoring",
    "yaml": "monitoring",
    "lightning": "lightning",  # curvewatch.integrations.lightning
    "transformers": "transformers",  # curvewatch.integrations.transformers
    "accelerate": "transformers",  # what transformers.Trainer needs on PyTorch
    "tensorboard": "tensorboard",  # curvewatch import-tb | tail-tb
    "plotly": "report",  # curvewatch report
    "s3fs": "s3",  # an archive root at s3://bucket/prefix
    "pynvml": "gpu",  # nvidia-ml-py: device utilisation and temperature in the training signals
    "mkdocs": "docs",  # the documentation site (mkdocs build --strict)
    "material": "docs",  # mkdocs-material, the site's theme
    "mkdocstrings": "docs",  # the API reference from the docstrings
    "mkdocstrings_handlers": "docs",  # mkdocstrings-python, its Python handler
}


def extra_for(module: str | None) -> str | None:
    """The extra that installs ``module`` (a dotted name is looked up by its top level), or None."""
    return EXTRA_MODULES.get((module or "").split(".")[0])


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is missing; the message names the extra that installs it."""

    @classmethod
    def of(cls, exc: ModuleNotFoundError, what: str = "This") -> MissingExtraError | ModuleNotFoundError:
        """The sentence for ``exc`` when an extra provides the missing module, else ``exc`` itself."""
        extra = extra_for(exc.name)
        if extra is None:
            return exc
        return cls(f"{what} needs the '{extra}' extra ({exc.name!r} is not installed); "
                   f"run: pip install 'curvewatch[{extra}]'.", name=exc.name)
