"""Notebook 9 after the README's first command alone, in a fresh virtual environment.

A new user runs ``pip install -e ".[all]"`` in a new venv, then the testing notebook: its
pytest demo must show pytest's failure naming the turn (so ``.[all]`` brings pytest), print
pytest's own errors rather than nothing, and carry no warnings from the settings of the
repository the notebook sits in. The venv is real (no system site-packages) and built with
pip from the package index, so this test is slow, and it fails, never skips, when the venv
cannot be built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from test_browser_action_error import CELLS as ACTION_ERROR_CELLS

from kernels import copy_notebooks

REPOSITORY = Path(__file__).resolve().parent.parent
PIP_TIMEOUT = 900  # seconds: a cold pip cache downloads JupyterLab, pandas, matplotlib...


def fresh_venv(where: Path) -> Path:
    """A new venv with the README's first command run in it; its python."""
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(where)
    python = where / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-e", f"{REPOSITORY}[all]"],
        capture_output=True, text=True, timeout=PIP_TIMEOUT,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert installed.returncode == 0, f"pip install -e .[all] failed:\n{installed.stderr[-3000:]}"
    return python


def kernel_for(python: Path, jupyter_dir: Path) -> str:
    """A kernelspec (in ``jupyter_dir``) that starts ``python``'s ipykernel, nothing else on
    its path: the venv's packages are all the notebook gets."""
    spec = jupyter_dir / "kernels" / "fresh-venv"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh venv", "language": "python",
        "env": {"PYTHONPATH": "", "MPLBACKEND": "agg"},
    }))
    return "fresh-venv"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernel of a fresh venv holding only what ``pip install -e .[all]`` installed."""
    where = tmp_path_factory.mktemp("fresh")
    python = fresh_venv(where / "venv")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(where / "jupyter"))
        yield kernel_for(python, where / "jupyter")


@pytest.mark.timeout(PIP_TIMEOUT + 300)
def test_notebook_9_after_the_readme_first_command_shows_the_failing_turn(tmp_path, kernel):
    workdir = copy_notebooks(tmp_path)
    # as in a clone: the repository's pytest settings sit above the notebooks
    shutil.copy(REPOSITORY / "pyproject.toml", tmp_path / "pyproject.toml")
    notebook = nbformat.read(workdir / "09-testing-your-bot.ipynb", as_version=4)
    NotebookClient(notebook, kernel_name=kernel, timeout=120,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    printed = [_text(cell) for cell in notebook.cells if cell.cell_type == "code"]
    runs = [text for cell, text in zip([c for c in notebook.cells if c.cell_type == "code"],
                                       printed) if "run_pytest(" in cell.source]
    assert "1 passed" in runs[0], runs[0]
    assert "AssertionError: turn 1 (event 'mushroom'): the bot's replies changed" in runs[1], runs[1]
    assert "AssertionError: turn 2 (event 'Hi'): the bot's replies changed" in runs[2], runs[2]
    assert not any("warning" in text.lower() for text in runs), runs


def test_an_action_error_names_the_action_cell_with_the_ipython_pip_installs(tmp_path, kernel):
    """IPython 9 (what pip installs now) counts a cell before running it, IPython 8 after:
    the %%action cell's traceback must name its own In[n] under both."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in ACTION_ERROR_CELLS]
    NotebookClient(notebook, kernel_name=kernel, timeout=120, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    (error,) = [o for o in notebook.cells[-1].outputs if o["output_type"] == "error"]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    number = notebook.cells[-2].execution_count
    assert number == 4 and notebook.cells[-1].execution_count == 5
    assert f"Cell In[{number}], line 2, in App" in shown, shown


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.outputs)
