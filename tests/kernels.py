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
    shutil.copytree(NOTEBOOKS, copy,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".sessions"))
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


# -- a chat, executed and saved, then converted to HTML as a reader gets it ------------------

SCRIPT = "<script>window.__pwned = 1</script>"
IMAGE = '<img src=x onerror="window.__pwned=2">'
SAVED_CHAT_CELLS = [
    "%load_ext bottender_nb",
    '%%bottender_config\n{"initialState": {"count": 0}}',
    "%%action\n"
    'count = context.state["count"] + 1\n'
    "context.set_state(count=count)\n"
    'await context.send_text(f"Count: {count}")\n'
    'if context.event.text != "Hi":\n'
    '    await context.send_text(f"You said: {context.event.text}")\n',
    "%chat",
    "%say Hi",
    f"%say {SCRIPT}",
    f"%say {IMAGE}",
    "%say Bye",
]


def saved_chat_html(workdir: Path) -> tuple[nbformat.NotebookNode, Path]:
    """Run SAVED_CHAT_CELLS, save the notebook without widget state, convert it to HTML.

    The saved notebook, and the HTML file ``jupyter nbconvert --to html`` made of it.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in SAVED_CHAT_CELLS]
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3",
                                       "language": "python"}
    nbclient.NotebookClient(
        notebook, kernel_name=ensure_python3_kernel(), timeout=60, store_widget_state=False,
        resources={"metadata": {"path": str(workdir)}},
    ).execute()
    path = workdir / "saved_chat.ipynb"
    nbformat.write(notebook, path)
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(path)],
                   check=True, capture_output=True, cwd=workdir)
    return nbformat.read(path, as_version=4), path.with_suffix(".html")
