"""The demo notebooks are jupytext pairs: the percent-format ``.py`` is the source, the
``.ipynb`` beside it keeps the outputs that nbval checks. A pair out of sync means the
``.ipynb`` that CI executes is not the code a reviewer read."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source.strip(), list(c.metadata.get("tags", []))) for c in nb.cells]


def test_every_notebook_has_a_text_source_and_every_source_a_notebook() -> None:
    sources = {p.stem for p in NOTEBOOKS.glob("[0-9]*.py")}
    assert IPYNBS, "no demo notebooks found"
    assert {p.stem for p in IPYNBS} == sources


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_pair_in_sync(ipynb: Path) -> None:
    text = jupytext.read(ipynb.with_suffix(".py"))
    stored = nbformat.read(ipynb, as_version=4)
    assert stored.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    assert _cells(text) == _cells(stored), (
        f"{ipynb.name} and {ipynb.with_suffix('.py').name} differ: edit the .py, then "
        f"`make notebooks NB={ipynb.stem}` (or `jupytext --sync {ipynb.with_suffix('.py').name}`)"
    )


def test_the_check_sees_an_edit(tmp_path: Path) -> None:
    """The comparison is not vacuous: changing one line of the source is noticed."""
    source = IPYNBS[0].with_suffix(".py")
    edited = tmp_path / source.name
    edited.write_text(source.read_text().replace("import", "import  os  # edited\nimport", 1))
    stored = nbformat.read(IPYNBS[0], as_version=4)
    assert _cells(jupytext.read(edited)) != _cells(stored)
