"""Map the import name onto the design card's folders and build the one compiled module.

``curvewatch`` is the only top-level package installed: its source is ``exporter/`` (the library)
and ``curvewatch.trainers`` comes from ``trainers/`` (the bundled forecasters). Every sub-package
under either folder is found here, so a new one needs no edit.

The extensions are optional: without a C compiler, pip installs curvewatch anyway and the recorder
uses the pure-Python twin in exporter/recorder/_logbuf.py (same results, slower log()) and the NumPy
drawing kernels for _craster.c (same picks, slower finalize()); the test
fixture tests/fixtures/log_buffer.py fails when it was not built. After editing
exporter/recorder/_clogbuf.c, rebuild with `.venv/bin/pip install -e .` (scripts/setup.sh does).
"""

from setuptools import Extension, find_packages, setup

PACKAGE_DIRS = {"curvewatch": "exporter", "curvewatch.trainers": "trainers"}


def _packages() -> list[str]:
    found = []
    for name, folder in PACKAGE_DIRS.items():
        found.append(name)
        found.extend(f"{name}.{sub}" for sub in find_packages(folder) if not sub.startswith("tests"))
    return found


setup(
    package_dir=PACKAGE_DIRS,
    packages=_packages(),
    ext_modules=[Extension("curvewatch.recorder._clogbuf", ["exporter/recorder/_clogbuf.c"], optional=True),
                 Extension("curvewatch.recorder._craster", ["exporter/recorder/_craster.c"], optional=True,
                           extra_compile_args=["-ffp-contract=off"])],  # the NumPy twins' exact float results
)
