"""The notebook kit moved to ``pane/`` and ``magics/``: each old ``bottender_nb.notebook.*``
import still works for one release, and warns with the path to use instead."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import bottender_nb
from bottender_nb.notebook import MOVED

OLD = Path(bottender_nb.__file__).parent / "notebook"
EVERY_MOVE = [(old, name, new) for old, names in MOVED.items() for name, new in names.items()]


@pytest.mark.parametrize("old, name, new", EVERY_MOVE,
                         ids=[f"{old}.{name}" for old, name, _ in EVERY_MOVE])
def test_an_old_path_gives_the_new_object_and_names_its_new_home(old, name, new):
    module = importlib.import_module(f"bottender_nb.notebook.{old}")
    with pytest.warns(DeprecationWarning, match=rf"import {name} from {new}\b") as caught:
        found = getattr(module, name)
    assert found is getattr(importlib.import_module(new), name)
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_every_old_module_is_in_the_table_and_nothing_else_is():
    files = {path.stem for path in OLD.glob("*.py")} - {"__init__"}
    assert files == set(MOVED)
    assert "recording" not in files  # --record did nothing; it is gone, not deprecated


def test_the_usual_old_imports_work_in_a_fresh_interpreter_and_warn_each_time():
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "import bottender_nb\n"
        "from bottender_nb.notebook.chat import ChatPane\n"
        "from bottender_nb.notebook.kit import NotebookBot\n"
        "from bottender_nb.notebook.magics import load_ipython_extension\n"
        "from bottender_nb.notebook.cells import CellError\n"
        "from bottender_nb.notebook.chat import ChatPane as again\n"
        "assert ChatPane is again is bottender_nb.ChatPane\n"
        "assert CellError is bottender_nb.CellError\n"
        "assert NotebookBot().require_bot\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "DeprecationWarning" in line]
    assert len(warned) == 5, result.stderr
    assert "import ChatPane from bottender_nb.pane.chat_pane (or from bottender_nb)" in warned[0]


def test_a_name_the_old_module_never_had_is_an_attribute_error():
    module = importlib.import_module("bottender_nb.notebook.chat")
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        module.Nope  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("bottender_nb.notebook.recording")


def test_the_new_paths_do_not_warn(recwarn):
    from bottender_nb import ChatPane, load_ipython_extension  # noqa: F401
    from bottender_nb.magics.notebook_bot import NotebookBot  # noqa: F401
    from bottender_nb.pane.chat_pane import ChatPane as pane  # noqa: F401

    assert [str(w.message) for w in recwarn if "bottender_nb.notebook" in str(w.message)] == []


@pytest.mark.parametrize("old, new, name", [
    ("cohorts", "retention", "retention"),
    ("flows", "transitions", "transitions"),
    ("turns_contract", "turns_input", "wrap"),
])
def test_a_renamed_analysis_module_still_gives_its_names_and_warns(old, new, name):
    module = importlib.import_module(f"bottender_nb.analysis.{old}")
    with pytest.warns(DeprecationWarning, match=rf"moved to bottender_nb\.analysis\.{new}: import {name}"):
        found = getattr(module, name)
    assert found is getattr(importlib.import_module(f"bottender_nb.analysis.{new}"), name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018
