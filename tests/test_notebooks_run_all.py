"""Every teaching notebook under *Run All*: all cells queued at once in a real kernel.

A front end's *Run All* (and *Restart Kernel and Run All Cells*) sends every cell's execute
request without waiting for the previous reply; nbclient, which the other notebook tests use,
waits for each. Here the requests go out back to back, as JupyterLab sends them, and then every
reply is collected: each cell must finish, in order, without a traceback or a stray asyncio
complaint on stderr (cells tagged ``raises-exception`` excepted, as nbclient and JupyterLab do).
"""

from __future__ import annotations

import queue
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from kernels import NEEDS_REDIS, NOTEBOOKS, copy_notebooks, ensure_python3_kernel, notebook_env

NOTEBOOK_DEADLINE = 90  # seconds for every reply of one notebook (a cell-by-cell run takes < 30)
RAISES = "raises-exception"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What asyncio and the kernel print to stderr when a queued cell's task is broken or lost.
STDERR_ERRORS = ("Traceback", "Exception in callback", "Task was destroyed", "was never awaited",
                 "Error:")


@dataclass
class Cell:
    """One code cell as sent, and what the kernel answered."""

    index: int
    source: str
    tags: list[str]
    reply: dict[str, Any] | None = None
    idle: bool = False
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.reply is not None and self.idle

    def describe(self) -> str:
        return f"cell {self.index} ({self.source.splitlines()[0] if self.source else ''!r:.60})"


def run_all(path: Path, env: dict[str, str]) -> list[Cell]:
    """Queue every code cell of ``path`` in a fresh kernel at once; collect replies and output."""
    notebook = nbformat.read(path, as_version=4)
    manager, client = start_new_kernel(kernel_name=ensure_python3_kernel(), env=env,
                                       cwd=str(path.parent), startup_timeout=60)
    try:
        cells: dict[str, Cell] = {}
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            tags = list(cell.metadata.get("tags", []))
            # As JupyterLab does: a failing cell stops the queue, unless it is meant to fail.
            msg_id = client.execute(cell.source, stop_on_error=RAISES not in tags)
            cells[msg_id] = Cell(index, cell.source, tags)
        _collect(client, cells, deadline=time.monotonic() + NOTEBOOK_DEADLINE)
        return list(cells.values())
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _collect(client: Any, cells: dict[str, Cell], *, deadline: float) -> None:
    while not all(cell.done for cell in cells.values()) and time.monotonic() < deadline:
        try:
            message = client.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            message = None
        if message is not None:
            cell = cells.get(message["parent_header"].get("msg_id"))
            kind = message["msg_type"]
            if cell is not None and kind == "status":
                cell.idle = cell.idle or message["content"]["execution_state"] == "idle"
            elif cell is not None and kind in ("stream", "error", "display_data",
                                               "execute_result"):
                cell.outputs.append({"output_type": kind, **message["content"]})
        while True:
            try:
                reply = client.get_shell_msg(timeout=0)
            except queue.Empty:
                break
            cell = cells.get(reply["parent_header"].get("msg_id"))
            if cell is not None:
                cell.reply = reply["content"]


def errors_in(cell: Cell) -> list[str]:
    """The errors a cell shows: error outputs, and tracebacks or asyncio complaints on stderr."""
    found = []
    for output in cell.outputs:
        if output["output_type"] == "error":
            found.append(f"{output['ename']}: {output['evalue']}")
        elif output["output_type"] == "stream" and output["name"] == "stderr":
            text = ANSI.sub("", output["text"])
            if any(marker in text for marker in STDERR_ERRORS):
                found.append(text.strip()[-1500:])
    return found


@pytest.mark.parametrize("name", sorted(path.name for path in NOTEBOOKS.glob("[0-9]*.ipynb")))
def test_run_all_finishes_every_cell_in_order_without_errors(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if name in NEEDS_REDIS else None
    workdir = copy_notebooks(tmp_path)
    cells = run_all(workdir / name, notebook_env(redis_url))

    unfinished = [cell.describe() for cell in cells if not cell.done]
    assert not unfinished, (
        f"{name}: {len(unfinished)} of {len(cells)} cells never finished within "
        f"{NOTEBOOK_DEADLINE} s under Run All: {'; '.join(unfinished[:5])}\n"
        + _errors_report(cells)
    )
    failed = [f"{cell.describe()}: {cell.reply['status']}" for cell in cells
              if cell.reply["status"] != "ok" and RAISES not in cell.tags]
    assert not failed, f"{name}: {'; '.join(failed)}\n" + _errors_report(cells)
    counts = [cell.reply.get("execution_count") for cell in cells]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), (
        f"{name}: cells ran out of order, execution counts in cell order: {counts}"
    )
    report = _errors_report([cell for cell in cells if RAISES not in cell.tags])
    assert not report, f"{name}: errors in the output under Run All:\n{report}"


def _errors_report(cells: list[Cell]) -> str:
    return "\n".join(
        f"{cell.describe()}:\n    " + "\n    ".join(errors) for cell in cells
        if (errors := errors_in(cell))
    )
