"""Committed notebooks carry no outputs, so their diffs show only what a person wrote."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
STRIP_HINT = "strip it with: jupyter nbconvert --clear-output --inplace notebooks/*.ipynb"


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 7, [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_valid_nbformat_v4(path: Path) -> None:
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert notebook.nbformat == 4, f"{path.name} is nbformat v{notebook.nbformat}, not v4"
    nbformat.validate(notebook)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_has_no_outputs(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    dirty = [
        f"cell {index} ({cell['source'] if isinstance(cell['source'], str) else ''.join(cell['source'])!r:.50})"
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name} has outputs or execution counts in {', '.join(dirty)}; {STRIP_HINT}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_metadata_is_minimal(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    noisy = [
        f"cell {index}: {sorted(cell.get('metadata', {}))}"
        for index, cell in enumerate(notebook["cells"])
        if set(cell.get("metadata", {})) - {"tags"}  # tags are meaningful; execution times are not
    ]
    assert not noisy, f"{path.name} has cell metadata beyond tags ({'; '.join(noisy)}); {STRIP_HINT}"
    assert notebook["metadata"].get("kernelspec", {}).get("name") == "python3", path.name
