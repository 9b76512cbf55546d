"""Build the one compiled module: CurveRecorder.log()'s hot path (everything else is in pyproject.toml).

The extension is optional: without a C compiler, pip installs curvewatch anyway and the recorder
uses the pure-Python twin in exporter/recorder/_logbuf.py (same results, slower log()); the test
fixture tests/fixtures/log_buffer.py fails when it was not built. After editing
exporter/recorder/_clogbuf.c, rebuild with `.venv/bin/pip install -e .` (scripts/setup.sh does).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("exporter.recorder._clogbuf", ["exporter/recorder/_clogbuf.c"], optional=True)])
