"""An error inside an ``%%action`` names the action's own cell in JupyterLab: the ``In[n]`` the
front end shows on that cell, and the line in it, not the ``%say`` cell that sent the message.

Cell numbers are the front end's here (Run All in JupyterLab, Debian's Chromium), not
nbclient's. Reuses tests/test_browser.py's server fixture; never skipped.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from test_browser import SCREENSHOT_DIR, chromium_page, jupyter_lab  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext bottender_nb",
    '%%bottender_config\n{"initialState": {"count": 0}}',
    "print('a cell in between, so the numbers of the two cells differ by two')",
    "%%action\ncount = context.state['count'] + 1\nraise ValueError(f'boom at {count}')",
    "%say Hi",
]


def put_notebook(server: str, name: str, sources: list[str]) -> None:
    """Save a notebook of ``sources`` on the server, as a user's own file."""
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
              "execution_count": None} for source in sources]
    body = {"type": "notebook", "format": "json", "content": {
        "cells": cells, "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}}}}
    request = urllib.request.Request(f"{server}/api/contents/{name}", method="PUT",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()


def test_an_action_error_names_the_action_cell_in_jupyterlab(jupyter_lab: str) -> None:
    from playwright.sync_api import expect

    put_notebook(jupyter_lab, "action_error.ipynb", CELLS)
    with chromium_page() as page:
        try:
            page.goto(f"{jupyter_lab}/lab/tree/action_error.ipynb")
            cells = page.locator(".jp-Notebook .jp-Cell")
            expect(cells).to_have_count(len(CELLS))
            expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(
                timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            say_cell = cells.nth(4)
            error = say_cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            expect(error).to_contain_text("ValueError: boom at 1")
            prompt = cells.nth(3).locator(".jp-InputPrompt").inner_text()  # "[4]:"
            action_number = re.search(r"\[(\d+)\]", prompt).group(1)
            say_prompt = say_cell.locator(".jp-InputPrompt").inner_text()
            assert say_prompt != prompt, (prompt, say_prompt)
            text = error.inner_text()
            assert f"Cell In[{action_number}], line 2" in text, (prompt, say_prompt, text)
            assert "raise ValueError(f'boom at {count}')" in text, text
            assert "%say" not in text and "run_line_magic" not in text, text
        finally:
            page.screenshot(path=str(SCREENSHOT_DIR / "action_error.png"), full_page=True)
