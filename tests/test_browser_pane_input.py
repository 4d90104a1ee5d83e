"""Typing into the chat pane in JupyterLab and Notebook 7, in Chromium, as fast as keys go.

Reuses test_browser.py's Jupyter server and notebook (a counter bot and ``%chat``); the same
server serves JupyterLab (``/lab``) and Notebook 7 (``/notebooks``).
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
import re
from pathlib import Path

import pytest

from test_browser import (  # noqa: F401 - jupyter_lab is a fixture
    CELLS, CHROMIUM_ARGS, SCREENSHOT_DIR, UI_TIMEOUT_MS, _require_tools, _run_all_cells, jupyter_lab,
)

pytestmark = pytest.mark.browser

TRANSCRIPT = """() => [...document.querySelectorAll('.bnb-pane .bnb-row')].map(row => {
    const bubble = row.querySelector('.bnb-bubble').cloneNode(true);
    bubble.querySelector('.bnb-speaker')?.remove();
    const kind = ['you', 'bot', 'error', 'note'].find(k => row.classList.contains('bnb-' + k));
    return [kind, bubble.textContent];
})"""


def _open_pane(playwright, url: str, notebook7: bool = False):
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    browser = playwright.chromium.launch(executable_path=_require_tools(), headless=True,
                                         args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    if notebook7:
        if importlib.util.find_spec("notebook") is None:
            pytest.fail('Notebook 7 is not installed; install it with: pip install "notebook>=7"')
        _run_all_cells_in_notebook7(page, f"{url}/notebooks/chat.ipynb")
    else:
        _run_all_cells(page, f"{url}/lab/tree/chat.ipynb")
    pane = page.locator(".bnb-pane")
    expect(pane).to_be_visible(timeout=60_000)
    return browser, page, pane, pane.locator(".bnb-input input")


def _run_all_cells_in_notebook7(page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(len(CELLS))
    expect(page.locator(".jp-KernelName", has_text="Python 3")).to_be_visible(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def _type_fast_and_check(page, pane, box, said: list[str]) -> None:
    """Type each text and Enter with no pause between keys; the transcript is what was typed."""
    from playwright.sync_api import expect

    box.click()
    for text in said:
        page.keyboard.type(text, delay=0)  # no pause between keys
        page.keyboard.press("Enter")
        expect(box).to_have_value("")  # what a user sees before typing on
    expected = []
    for count, text in enumerate(said, start=1):
        expected += [["you", text], ["bot", f"Count: {count}"]]
        if text != "Hi":
            expected.append(["bot", f"You said: {text}"])
    expect(pane.locator(".bnb-bubble", has_text=f"Count: {len(said)}")).to_be_visible()
    page.wait_for_timeout(500)  # anything sent twice would show up by now
    assert page.evaluate(TRANSCRIPT) == expected
    expect(box).to_have_value("")  # and the box did not refill


LONG = "A longer message, typed with no pause: 1234567890 & <b>not bold</b> — ünïcödé ✓"


def test_what_is_typed_is_sent_at_any_typing_speed(jupyter_lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser, page, pane, box = _open_pane(playwright, jupyter_lab)
        try:
            _type_fast_and_check(page, pane, box, ["Hi", "Hi", "Hello there", "Hi", LONG, "Hi"])
            page.keyboard.type("Clicked", delay=0)  # then straight to the Send button
            pane.locator("button.bnb-send").click()
            expect(pane.locator(".bnb-bubble", has_text="You said: Clicked")).to_be_visible()
            expect(box).to_have_value("")  # the kernel took the text and emptied the box
            box.fill("Half")  # typed, left, back, Enter: the text left in the box is sent
            pane.locator(".bnb-state").click()
            box.press("Enter")
            expect(pane.locator(".bnb-bubble", has_text="You said: Half")).to_be_visible()
            expect(box).to_have_value("")
            pane.screenshot(path=str(SCREENSHOT_DIR / "pane_input.png"))
        finally:
            page.screenshot(path=str(SCREENSHOT_DIR / "pane_fast_typing.png"), full_page=True)
            browser.close()


def test_what_is_typed_is_sent_at_any_typing_speed_in_notebook7(jupyter_lab: str) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser, page, pane, box = _open_pane(playwright, jupyter_lab, notebook7=True)
        try:
            _type_fast_and_check(page, pane, box, ["Hi", "Hi", LONG, "Hi"])
        finally:
            page.screenshot(path=str(SCREENSHOT_DIR / "pane_fast_typing_nb7.png"), full_page=True)
            browser.close()


def _saved(server: str) -> dict:
    """``chat.ipynb`` as the server has it on disk (its contents API reads the file)."""
    with urllib.request.urlopen(f"{server}/api/contents/chat.ipynb?content=1", timeout=10) as got:
        return json.loads(got.read())


def test_ctrl_s_in_the_chat_box_saves_the_notebook(jupyter_lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser, page, pane, box = _open_pane(playwright, jupyter_lab)
        try:
            box.click()
            page.keyboard.type("Hi")
            page.keyboard.press("Enter")
            expect(pane.locator(".bnb-bubble", has_text="Count: 1")).to_be_visible()
            tab = page.locator(".lm-TabBar-tab", has_text="chat.ipynb").first
            expect(tab).to_have_class(re.compile("jp-mod-dirty"))  # ran, not saved yet
            before = _saved(jupyter_lab)["last_modified"]  # other tests use this notebook too
            page.keyboard.type("unsent")  # the focus is still in the box
            page.keyboard.press("Control+s")
            expect(tab).not_to_have_class(re.compile("jp-mod-dirty"), timeout=10_000)
            saved = _saved(jupyter_lab)
            assert saved["last_modified"] != before, "the file on disk was written"
            expect(box).to_have_value("unsent")  # Ctrl+S typed nothing and sent nothing
            expect(box).to_be_focused()
            assert page.evaluate(TRANSCRIPT) == [["you", "Hi"], ["bot", "Count: 1"]]
        finally:
            browser.close()


def test_letters_typed_in_the_box_are_text_not_notebook_shortcuts(jupyter_lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser, page, pane, box = _open_pane(playwright, jupyter_lab)
        try:
            cells = page.locator(".jp-Notebook .jp-Cell")
            expect(cells).to_have_count(len(CELLS))
            box.click()
            page.keyboard.press("Escape")  # command mode, were the keys to reach the notebook
            page.keyboard.type("abddm", delay=30)  # add above, add below, delete, to Markdown
            expect(box).to_have_value("abddm")
            page.wait_for_timeout(300)
            expect(cells).to_have_count(len(CELLS))
            expect(page.locator(".jp-Notebook .jp-MarkdownCell")).to_have_count(0)
            page.keyboard.press("Enter")
            expect(pane.locator(".bnb-bubble", has_text="You said: abddm")).to_be_visible()
        finally:
            browser.close()
