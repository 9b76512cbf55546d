"""Framework integrations: each translates a framework's hooks into curvewatch calls and nothing else.

- ``curvewatch.integrations.tensorboard``: ``import-tb`` / ``tail-tb`` for TensorBoard logdirs.

Each is imported on its own (``from curvewatch.integrations.tensorboard import import_logdir``); the
framework is imported only then, and a missing one is named with the extra that installs it.
"""

__all__: list[str] = []
