"""The chat pane end to end: real JupyterLab, real kernel, Debian's Chromium driven by Playwright.

Missing pieces fail the test with the command that installs them: this test is never skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from kernels import ensure_python3_kernel

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT_DIR = REPO / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SCRIPT = "<script>window.__pwned = 1</script>"
IMAGE = '<img src=x onerror="window.__pwned=2">'
CELLS = [
    "%load_ext bottender_nb",
    '%%bottender_config\n{"initialState": {"count": 0}}',
    "%%action\n"
    'count = context.state["count"] + 1\n'
    "context.set_state(count=count)\n"
    'await context.send_text(f"Count: {count}")\n'
    'if context.event.text != "Hi":\n'
    '    await context.send_text(f"You said: {context.event.text}")\n',
    "%chat",
]
SERVER_START_TIMEOUT = 60
UI_TIMEOUT_MS = 30_000


def _require_tools() -> str:
    """Chromium's path; fail with how to install what is missing."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is not installed; install Debian's package: sudo apt-get install chromium")
    for module, install in (
        ("jupyterlab", 'pip install "bottender-nb[lab]"  (or: pip install "jupyterlab>=4")'),
        ("jupyterlab_widgets", 'pip install "ipywidgets>=8" jupyterlab_widgets'),
        ("playwright", 'pip install "bottender-nb[test]"  (or: pip install playwright)'),
    ):
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"{module} is not installed; install it with: {install}")
    return chromium


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"jupyter lab did not answer within {SERVER_START_TIMEOUT}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[str]:
    """A JupyterLab 4 server on 127.0.0.1 without a token, serving a notebook with a chat pane."""
    _require_tools()
    ensure_python3_kernel()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "chat.ipynb")
    port = _free_port()
    log = tmp_path / "jupyter-lab.log"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
        f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers often run as root
        command.append("--allow-root")
    with log.open("wb") as log_file:
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log_file,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log)
        yield url
    finally:
        _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and the kernels it started (its process group, which we created)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_chat_pane_in_jupyterlab(jupyter_lab: str) -> None:
    chromium = _require_tools()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENSHOT_DIR / "chat_pane.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            _run_all_cells(page, f"{jupyter_lab}/lab/tree/chat.ipynb")
            pane = page.locator(".bnb-pane")
            expect(pane).to_be_visible()
            box = pane.locator(".bnb-input input")
            transcript = pane.locator(".bnb-transcript")
            box.click()
            box.fill("Hi")
            pane.locator(".bnb-state").click()  # leaving the box sends nothing...
            page.wait_for_timeout(500)
            expect(transcript.locator(".bnb-bubble")).to_have_count(0)
            box.press("Enter")  # ...Enter does, what was typed
            expect(box).to_have_value("")
            _type_and_enter(box, "Hi")
            expect(transcript.get_by_text("Count: 2", exact=True)).to_be_visible()
            changed = pane.locator(".bnb-state-key.bnb-changed")
            expect(changed).to_have_count(1)
            expect(changed).to_have_text("count: 2")
            for text in (SCRIPT, IMAGE):
                _type_and_enter(box, text)
                expect(transcript.locator(".bnb-bubble", has_text=f"You said: {text}")).to_be_visible()
                expect(transcript.locator(".bnb-bubble", has_text=text)).to_have_count(2)
            expect(transcript.get_by_text("Count: 4", exact=True)).to_be_visible()
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert transcript.locator("img, script").count() == 0
        finally:
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot: {screenshot}")
            browser.close()


def _run_all_cells(page, url: str) -> None:
    """Open the notebook, wait until its kernel is idle, and use Run > Run All Cells."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(len(CELLS))
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(timeout=60_000)
    news = page.locator(".jp-Notification-Toast-Close, .jp-toast-button", has_text="No")
    if news.count():
        news.first.click()  # the "official Jupyter news?" toast would cover the screenshot
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():  # a kernel chooser, should JupyterLab still ask: take the python3 default
        dialog.first.click()


def _type_and_enter(box, text: str) -> None:
    box.click()
    box.fill(text)
    box.press("Enter")
    from playwright.sync_api import expect

    expect(box).to_have_value("")  # the kernel took the line and cleared the box
