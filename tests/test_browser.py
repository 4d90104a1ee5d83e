"""The kit end to end: real JupyterLab 4 and Notebook 7, real kernels, Debian's Chromium driven
by Playwright: the chat pane, every teaching notebook under *Restart Kernel and Run All Cells*,
and a saved notebook's HTML read offline.

One server (JupyterLab, which also serves Notebook 7's pages) runs for the whole module.
Missing pieces fail the test with the command that installs them: this test is never skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kernels import (
    IMAGE, NOTEBOOKS, SAVED_CHAT_CELLS, SCRIPT, copy_notebooks, ensure_python3_kernel, notebook_env,
    saved_chat_html,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT_DIR = REPO / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
CELLS = SAVED_CHAT_CELLS[:4]  # load, config, the counting action, %chat
SERVER_START_TIMEOUT = 60
UI_TIMEOUT_MS = 30_000
RUN_ALL_TIMEOUT_MS = 120_000
TEACHING = sorted(path.name for path in NOTEBOOKS.glob("[0-9]*.ipynb"))
# What a cell's stderr shows when something broke: a traceback, an error, asyncio's complaints.
ERROR_MARKERS = ("Traceback", "Error", "Exception in callback", "Task was destroyed",
                 "never awaited")
ALL_CELLS_RAN = r"""count => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
    return prompts.length === count
        && prompts.every(prompt => /^\[\d+\]:$/.test(prompt.textContent.trim()));
}"""  # every code cell shows its execution count: none is [ ] or [*]


def _require_tools() -> str:
    """Chromium's path; fail with how to install what is missing."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is not installed; install Debian's package: sudo apt-get install chromium")
    for module, install in (
        ("jupyterlab", 'pip install "bottender-nb[lab]"  (or: pip install "jupyterlab>=4")'),
        ("notebook", 'pip install "bottender-nb[lab]"  (or: pip install "notebook>=7")'),
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


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[str]:
    """A JupyterLab 4 server on 127.0.0.1 without a token, for the whole module.

    It serves a notebook with a chat pane (``chat.ipynb``) and a copy of the teaching
    notebooks (``notebooks/``); its kernels get the teaching notebooks' environment. Notebook
    7, installed next to it, serves its own pages (``/notebooks/<path>``) from the same server.
    """
    _require_tools()
    ensure_python3_kernel()
    tmp_path = tmp_path_factory.mktemp("jupyter")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "chat.ipynb")
    copy_notebooks(tmp_path)
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Every cell in the page, so the test sees every prompt and output (no virtual scrolling).
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port = _free_port()
    log = tmp_path / "jupyter-lab.log"
    env = {**notebook_env(redis_url), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
        f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
        "--ServerApp.disable_check_xsrf=True",  # the test stops kernels through the REST API
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
    from playwright.sync_api import expect

    screenshot = SCREENSHOT_DIR / "chat_pane.png"
    with chromium_page() as page:
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


@contextmanager
def chromium_page(height: int = 1000) -> Iterator[Any]:
    """A page in Debian's headless Chromium (with the flags this machine needs), closed after."""
    chromium = _require_tools()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
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


# -- every teaching notebook under Kernel > Restart Kernel and Run All Cells ----------------


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's Run All tests."""
    chromium = _require_tools()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("name", TEACHING)
def test_restart_and_run_all_in_jupyterlab(jupyter_lab: str, browser, name: str) -> None:
    # ?reset: a fresh workspace, so the notebooks of earlier tests do not open again
    _restart_and_run_all_then_chat(browser, f"{jupyter_lab}/lab/tree/notebooks/{name}?reset",
                                   jupyter_lab, f"run_all_lab_{name[:2]}.png")


def test_restart_and_run_all_in_notebook_7(jupyter_lab: str, browser) -> None:
    _restart_and_run_all_then_chat(browser, f"{jupyter_lab}/notebooks/notebooks/{TEACHING[0]}",
                                   jupyter_lab, "run_all_notebook7_01.png")


def _cells_meant_to_raise(server: str, url: str) -> set[int]:
    """Indexes of the notebook's cells tagged ``raises-exception`` (read through the server)."""
    path = re.split(r"/(?:lab/tree|notebooks)/", url.split("?")[0], maxsplit=1)[1]
    with urllib.request.urlopen(f"{server}/api/contents/{path}?content=1", timeout=10) as got:
        cells = json.loads(got.read())["content"]["cells"]
    return {n for n, cell in enumerate(cells) if "raises-exception" in cell["metadata"].get("tags", [])}


def _panes_in_source(server: str, url: str) -> int:
    """How many chat panes the notebook shows: a cell with a ``%chat`` line, or one that ends
    with the name it bound to ``ChatPane(...)`` (read through the server)."""
    path = re.split(r"/(?:lab/tree|notebooks)/", url.split("?")[0], maxsplit=1)[1]
    with urllib.request.urlopen(f"{server}/api/contents/{path}?content=1", timeout=30) as got:
        cells = json.loads(got.read())["content"]["cells"]
    count = 0
    for cell in cells:
        lines = [line.strip() for line in "".join(cell["source"]).splitlines() if line.strip()]
        if cell["cell_type"] != "code" or not lines:
            continue
        shown = re.fullmatch(r"\w+", lines[-1]) and f"{lines[-1]} = ChatPane(" in "\n".join(lines)
        count += any(re.match(r"%chat\b", line) for line in lines) or bool(shown)
    return count


def _restart_and_run_all_then_chat(browser, url: str, server: str, screenshot: str) -> None:
    """Kernel > Restart Kernel and Run All Cells; every cell ends, none shows an error, every
    chat pane the source makes renders; then a message typed into the first gets its reply."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        page.goto(url)
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        expect(cells.first).to_be_visible(timeout=60_000)
        _dismiss_news(page)
        _wait_for_idle_kernel(server)
        page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
        page.locator(".jp-Dialog .jp-mod-accept").first.click()  # "Restart"
        page.wait_for_function(ALL_CELLS_RAN, arg=cells.count(), timeout=RUN_ALL_TIMEOUT_MS)
        waiting = page.locator(".jp-CodeCell .jp-InputArea-prompt", has_text="[*]")
        expect(waiting).to_have_count(0)
        meant = _cells_meant_to_raise(server, url)  # nbclient's tag: they show an error
        all_cells = page.locator(".jp-Notebook .jp-Cell")
        errors = [
            text for index in range(all_cells.count()) if index not in meant
            for text in all_cells.nth(index).locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
            ).all_inner_texts()
            if any(marker in text for marker in ERROR_MARKERS)
        ]
        assert not errors, f"{url}: error output after Run All:\n" + "\n---\n".join(errors)
        panes = page.locator(".bnb-pane")
        expected = _panes_in_source(server, url)
        expect(panes).to_have_count(expected)  # every pane the source makes has rendered
        if expected:
            _chat_after_run_all(page, panes.first)
            # The saved copy of the chat is for pages without the live pane: hidden here.
            expect(page.locator(".bnb-saved").first).to_be_hidden()
    finally:
        page.screenshot(path=str(SCREENSHOT_DIR / screenshot), full_page=True)
        page.close()
        _shut_down_kernels(server)


def _chat_after_run_all(page, pane) -> None:
    from playwright.sync_api import expect

    pane.scroll_into_view_if_needed()
    replies = pane.locator(".bnb-transcript .bnb-row.bnb-bot")
    failures = pane.locator(".bnb-transcript .bnb-error")
    before, failed = replies.count(), failures.count()
    _type_and_enter(pane.locator(".bnb-input input"), "Hi")
    expect(replies).to_have_count(before + 1)  # the notebook's bot answered, whatever it says
    expect(failures).to_have_count(failed)


def _dismiss_news(page) -> None:
    news = page.locator(".jp-Notification-Toast-Close, .jp-toast-button", has_text="No")
    if news.count():
        news.first.click()


def _wait_for_idle_kernel(server: str) -> None:
    """Until the page's kernel has started and is idle (asked of the server: either front end)."""
    deadline = time.monotonic() + 60
    kernels: list[dict[str, str]] | str = []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{server}/api/kernels", timeout=10) as response:
                kernels = json.load(response)
        except OSError as error:  # the server answers 500 while a kernel is being started
            kernels = repr(error)
        else:
            if kernels and all(kernel["execution_state"] == "idle" for kernel in kernels):
                return
        time.sleep(0.3)
    pytest.fail(f"no idle kernel within 60 s: {kernels}")


def _shut_down_kernels(server: str) -> None:
    """Stop the kernels the page started (a closed tab leaves them running)."""
    with urllib.request.urlopen(f"{server}/api/kernels", timeout=10) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{server}/api/kernels/{kernel['id']}", method="DELETE")
        with urllib.request.urlopen(request, timeout=30):
            pass


# -- a saved notebook, converted to HTML, read offline ------------------------------------


def test_saved_chat_html_offline(tmp_path: Path, browser) -> None:
    """nbconvert's page of an executed %chat + %say notebook, opened with no network."""
    from playwright.sync_api import expect

    _notebook, html = saved_chat_html(tmp_path)
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    screenshot = SCREENSHOT_DIR / "saved_chat.png"
    try:
        page.goto(html.as_uri())
        saved = page.locator(".bnb-saved")
        expect(saved).to_be_visible()
        expect(saved).to_contain_text("You said: Bye")
        expect(saved).to_contain_text("count: 4")
        expect(saved).to_contain_text(SCRIPT)  # shown as typed, never run
        expect(saved).to_contain_text(IMAGE)
        expect(saved.locator("script, img")).to_have_count(0)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        saved.scroll_into_view_if_needed()
    finally:
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"screenshot: {screenshot}")
        context.close()
