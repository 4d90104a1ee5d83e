"""Run cells in a real ``python3`` Jupyter kernel (installed for this interpreter if missing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

KERNEL = "python3"


def ensure_python3_kernel() -> str:
    """The ``python3`` kernelspec's name, after installing it for this interpreter if needed."""
    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL],
            check=True, capture_output=True,
        )
        KernelSpecManager().get_kernel_spec(KERNEL)  # fails loudly if the install did not take
    return KERNEL


def execute(cells: list[str], workdir: Path, *, timeout: int = 60) -> list[list[dict[str, Any]]]:
    """Run ``cells`` as one notebook in ``workdir``; each cell's outputs (errors included)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(
        notebook, kernel_name=ensure_python3_kernel(), timeout=timeout, allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return [list(cell.outputs) for cell in notebook.cells]


def stream(outputs: list[dict[str, Any]], name: str = "stdout") -> str:
    """The text a cell printed to ``name`` (stdout or stderr)."""
    return "".join(
        output["text"] for output in outputs
        if output["output_type"] == "stream" and output["name"] == name
    )


# -- the teaching notebooks, run where they can write files ---------------------------------

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NEEDS_REDIS = {"05-session-storage.ipynb"}


def copy_notebooks(tmp_path: Path) -> Path:
    """A scratch copy of ``notebooks/``: what a notebook writes stays out of the repository."""
    import shutil

    copy = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".sessions"))
    return copy


def notebook_env(redis_url: str | None) -> dict[str, str]:
    """The environment a teaching notebook's kernel runs in (never the developer's own Redis)."""
    import os

    from servers import free_port

    env = dict(os.environ)
    # The kernel must find this interpreter's `bottender-nb` script for the `!` console cells.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # The test's server, or a port where nothing listens.
    env["REDIS_URL"] = redis_url or f"redis://127.0.0.1:{free_port()}/0"
    env["MPLBACKEND"] = "agg"
    return env
