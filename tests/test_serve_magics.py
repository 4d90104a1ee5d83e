"""``%serve`` in a real kernel: LINE webhooks posted from another process reach the notebook's
bot while no cell runs (and while all cells are queued at once), update the session, ``%turns``
and an open ``%chat`` pane; a forged one gets 401; ``%serve --stop`` frees the port."""

from __future__ import annotations

import json
import queue
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from helpers.post_line import post
from kernels import ensure_python3_kernel
from loopback_api import LoopbackApi
from servers import free_port
from test_notebooks_run_all import errors_in, run_all

HELPERS = Path(__file__).resolve().parent / "helpers"
SECRET = "line-channel-secret-0123456789"
TOKEN = "line-access-token-abcdefghijklmnop"
USER = "U4af4980629b0f2d6d3c0a7b4b1d4c3a2"


def setup_cells(line_api: str, port: int) -> list[str]:
    config = {"initialState": {"count": 0}, "channels": {"line": {
        "channelSecret": SECRET, "accessToken": TOKEN, "apiBase": line_api}}}
    return [
        "%load_ext bottender_nb",
        f"%%bottender_config\n{json.dumps(config)}",
        "%%action\n"
        'count = context.state["count"] + 1\n'
        "context.set_state(count=count)\n"
        'await context.send_text(f"Count: {count}")\n',
        f"%chat --platform line --user {USER}",
        "pane = get_ipython().magics_manager.registry['BottenderMagics'].kit.panes[-1]",
        f"%serve --port {port}",
    ]


def check_cells(port: int) -> list[str]:
    return [
        "print(pane.transcript)",
        f"%state line:{USER}",
        f"%turns line:{USER}",
        "%serve --stop",
        "import socket\n"
        "probe = socket.socket()\n"
        "probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"probe.bind(('127.0.0.1', {port})); probe.listen(); probe.close()\n"
        "print('bound again')",
    ]


@pytest.fixture
def line_api() -> Iterator[LoopbackApi]:
    with LoopbackApi() as api:
        yield api


class Kernel:
    """A real kernel to run cells in one at a time, so the test can act between them."""

    def __init__(self, workdir: Path) -> None:
        self.manager, self.client = start_new_kernel(
            kernel_name=ensure_python3_kernel(), cwd=str(workdir), startup_timeout=60)

    def run(self, code: str) -> str:
        """Run ``code``; what it printed and showed (text/plain, text/html), errors included."""
        texts: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                texts.append(content["text"])
            elif message["msg_type"] in ("execute_result", "display_data"):
                texts.extend(content["data"].get(k, "") for k in ("text/plain", "text/html"))
            elif message["msg_type"] == "error":
                texts.append(f"{content['ename']}: {content['evalue']}")

        self.client.execute_interactive(code, output_hook=hook, timeout=60)
        return "\n".join(texts)

    def run_and_interrupt(self, code: str) -> str:
        """Start ``code``, interrupt the kernel (Ctrl-C / Kernel > Interrupt) once it prints
        ``running``; the error it ended with. Interrupts again if one lands too early."""
        msg_id = self.client.execute(f"print('running', flush=True)\n{code}")
        while True:  # wait until the cell's code runs
            message = self.client.get_iopub_msg(timeout=30)
            if (message["parent_header"].get("msg_id") == msg_id
                    and message["msg_type"] == "stream" and "running" in message["content"]["text"]):
                break
        for _ in range(10):
            self.manager.interrupt_kernel()
            try:
                reply = self.client.get_shell_msg(timeout=5)
            except queue.Empty:
                continue
            assert reply["parent_header"]["msg_id"] == msg_id
            return reply["content"].get("ename", reply["content"]["status"])
        raise AssertionError("the kernel never stopped for an interrupt")

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_between_cells_reaches_the_session_the_turns_and_the_pane(
    tmp_path: Path, line_api: LoopbackApi
) -> None:
    port = free_port()
    kernel = Kernel(tmp_path)
    try:
        for cell in setup_cells(line_api.url, port):
            output = kernel.run(cell)
            assert "Error" not in output, output
        assert f"line: http://127.0.0.1:{port}/webhooks/line" in output, output
        assert SECRET not in output and TOKEN not in output
        url = f"http://127.0.0.1:{port}/webhooks/line"
        # Serving leaves SIGINT to the kernel: an interrupt still stops a running cell.
        assert kernel.run_and_interrupt("import time; time.sleep(120)") == "KeyboardInterrupt"
        # The kernel is idle: no cell runs while LINE (this process) posts.
        assert post(url, SECRET, USER, "Hi") == 200
        assert post(url, SECRET, USER, "Hacked", forged=True) == 401
        assert post(url, SECRET, USER, "Again") == 200
        transcript, state, turns, stopped, bound = (kernel.run(cell) for cell in check_cells(port))
    finally:
        kernel.close()
    assert ("('You', 'Hi'), ('Bot', 'Count: 1'), ('You', 'Again'), ('Bot', 'Count: 2')"
            in transcript), transcript
    assert "Hacked" not in transcript
    assert '"count": 2' in state, state
    assert "<table" in turns and "Again" in turns and "Hacked" not in turns, turns
    assert f"Stopped serving on http://127.0.0.1:{port}." in stopped
    assert "bound again" in bound, bound
    replies = [body for path, _headers, body in line_api.requests
               if path == "/v2/bot/message/reply"]
    assert [r["messages"][0]["text"] for r in replies] == ["Count: 1", "Count: 2"], line_api.requests


def test_serve_under_run_all_with_events_posted_from_another_process(
    tmp_path: Path, line_api: LoopbackApi
) -> None:
    """Every cell queued at once; a cell in the middle has another process post the events."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/line"
    poster = [sys.executable, str(HELPERS / "post_line.py"), url, SECRET, USER]
    posting = ("import subprocess\n"
               f"for text, *flags in [('Hi',), ('Hacked', '--forged')]:\n"
               f"    done = subprocess.run({poster!r} + [text, *flags], capture_output=True, text=True)\n"
               "    print(text, done.stdout.strip(), done.stderr[-300:])")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in
                      [*setup_cells(line_api.url, port), posting, *check_cells(port)]]
    path = tmp_path / "serve.ipynb"
    nbformat.write(notebook, path)
    cells = run_all(path, {**_env(), "PYTHONUNBUFFERED": "1"})
    assert all(cell.done for cell in cells), [cell.describe() for cell in cells if not cell.done]
    problems = [(cell.describe(), errors_in(cell)) for cell in cells if errors_in(cell)]
    assert not problems, problems
    text = ["".join(o.get("text", "") + json.dumps(o.get("data", {})) for o in cell.outputs)
            for cell in cells]
    assert "Hi 200" in text[6] and "Hacked 401" in text[6], text[6]
    assert "('You', 'Hi'), ('Bot', 'Count: 1')" in text[7] and "Hacked" not in text[7], text[7]
    assert '"count": 1' in text[8], text[8]
    assert "Hi" in text[9] and "Hacked" not in text[9], text[9]
    assert "bound again" in text[11], text[11]


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
