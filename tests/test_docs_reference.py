"""The generated reference pages (one per CLI command, the guarantees page) are what the code gives now.

They are written by ``scripts/docs_reference.py`` and committed; a change to an argparse option, a
help text or a ``Guarantees`` docstring block without regenerating them fails here, naming the pages.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("docs_reference", REPO / "scripts" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_are_not_stale(generator) -> None:
    stale = generator.stale_pages()
    assert not stale, (f"stale generated docs: {[str(p) for p in stale]}; run `{generator.REGENERATE}` "
                       "and commit them")


def test_every_command_has_a_page_with_its_options(generator) -> None:
    from curvewatch.cli import build_parser

    commands = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices).choices
    pages = generator.cli_pages()
    assert set(commands) | {"index"} == {p.stem for p in pages}
    serve_model = pages[generator.CLI_DIR / "serve-model.md"]
    assert "`--canary" in serve_model and "`--weight WEIGHT` | `0.1`" in serve_model
    versions = pages[generator.CLI_DIR / "versions.md"]
    assert "## `curvewatch versions verify`" in versions and "`--all`" in versions


def test_defaults_are_the_codes_not_the_environment(generator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURVEWATCH_ROOT", "/somewhere/else")
    assert "/somewhere/else" not in generator.cli_pages()[generator.CLI_DIR / "versions.md"]


def test_guarantees_page_collects_the_docstring_blocks(generator) -> None:
    page = generator.guarantees_page()
    for name in ("resume_gives_the_curves_of_an_uninterrupted_run",
                 "verify_reports_every_changed_missing_or_added_file",
                 "oversized_input_is_refused_without_reading_it_all", "Spikes kept"):
        assert name in page
    assert page.count("\n## `curvewatch.") >= 20


def test_a_guarantee_block_ends_where_its_list_ends(generator) -> None:
    doc = "Intro.\n\nGuarantees (tests named after them in t.py):\n- a: one\n  more\n- b: two\n\nThreads: apart.\n"
    assert list(generator._guarantee_blocks(doc)) == [
        "Guarantees (tests named after them in t.py):\n\n- a: one\n  more\n- b: two"]
