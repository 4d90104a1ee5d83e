"""A real user's message reaches an open chat pane in JupyterLab while no cell runs: the notebook
serves its bot (``%serve``), this test posts a signed LINE webhook from outside, and the message
and the bot's reply appear in the pane in Chromium. A forged one changes nothing.

Reuses test_browser.py's Jupyter server; the notebook is uploaded through its contents API.
"""

from __future__ import annotations

import json
import urllib.request

import nbformat
import pytest

from helpers.post_line import post
from loopback_api import LoopbackApi
from servers import free_port
from test_browser import (  # noqa: F401 - jupyter_lab is a fixture
    ALL_CELLS_RAN, SCREENSHOT_DIR, _dismiss_news, _shut_down_kernels, _wait_for_idle_kernel,
    chromium_page, jupyter_lab,
)
from test_serve_magics import SECRET, USER, setup_cells

pytestmark = pytest.mark.browser
NAME = "serve_chat.ipynb"


def _upload(server: str, cells: list[str]) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    body = json.dumps({"type": "notebook", "content": json.loads(nbformat.writes(notebook))})
    request = urllib.request.Request(f"{server}/api/contents/{NAME}", data=body.encode(),
                                     method="PUT", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30):
        pass


def test_a_real_users_message_appears_in_the_open_pane_without_running_a_cell(
    jupyter_lab: str,
) -> None:
    from playwright.sync_api import expect

    port = free_port()
    screenshot = SCREENSHOT_DIR / "serve_pane.png"
    with LoopbackApi() as line_api, chromium_page() as page:
        cells = setup_cells(line_api.url, port)
        _upload(jupyter_lab, cells)
        try:
            page.goto(f"{jupyter_lab}/lab/tree/{NAME}?reset")
            code = page.locator(".jp-Notebook .jp-CodeCell")
            expect(code).to_have_count(len(cells), timeout=60_000)
            _dismiss_news(page)
            _wait_for_idle_kernel(jupyter_lab)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            page.wait_for_function(ALL_CELLS_RAN, arg=len(cells), timeout=120_000)
            expect(page.get_by_text(f"http://127.0.0.1:{port}/webhooks/line")).to_be_visible()
            prompts = code.locator(".jp-InputArea-prompt").all_inner_texts()
            transcript = page.locator(".bnb-pane .bnb-transcript")
            expect(transcript.locator(".bnb-bubble")).to_have_count(0)

            url = f"http://127.0.0.1:{port}/webhooks/line"
            assert post(url, SECRET, USER, "Hello from LINE") == 200
            expect(transcript.get_by_text("Hello from LINE")).to_be_visible()
            expect(transcript.get_by_text("Count: 1", exact=True)).to_be_visible()
            expect(page.locator(".bnb-pane .bnb-state-key.bnb-changed")).to_have_text("count: 1")
            assert post(url, SECRET, USER, "Forged", forged=True) == 401
            assert post(url, SECRET, USER, "Still here") == 200
            expect(transcript.get_by_text("Count: 2", exact=True)).to_be_visible()
            expect(transcript.get_by_text("Forged")).to_have_count(0)
            # No cell ran meanwhile: every prompt shows the count it had after Run All.
            assert code.locator(".jp-InputArea-prompt").all_inner_texts() == prompts
            transcript.scroll_into_view_if_needed()
        finally:
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot: {screenshot}")
            _shut_down_kernels(jupyter_lab)
    replies = [body["messages"][0]["text"] for path, _h, body in line_api.requests
               if path == "/v2/bot/message/reply"]
    assert replies == ["Count: 1", "Count: 2"], line_api.requests
