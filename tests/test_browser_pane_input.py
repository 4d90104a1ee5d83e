"""Typing into the chat pane in JupyterLab, in Chromium, as fast as keys can go.

Reuses test_browser.py's JupyterLab server and notebook (a counter bot and ``%chat``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from test_browser import (  # noqa: F401 - jupyter_lab is a fixture
    CHROMIUM_ARGS, SCREENSHOT_DIR, UI_TIMEOUT_MS, _require_tools, _run_all_cells, jupyter_lab,
)

pytestmark = pytest.mark.browser

TRANSCRIPT = """() => [...document.querySelectorAll('.bnb-pane .bnb-row')].map(row => {
    const bubble = row.querySelector('.bnb-bubble').cloneNode(true);
    bubble.querySelector('.bnb-speaker')?.remove();
    const kind = ['you', 'bot', 'error', 'note'].find(k => row.classList.contains('bnb-' + k));
    return [kind, bubble.textContent];
})"""


def _open_pane(playwright, url: str):
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    browser = playwright.chromium.launch(executable_path=_require_tools(), headless=True,
                                         args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    _run_all_cells(page, f"{url}/lab/tree/chat.ipynb")
    pane = page.locator(".bnb-pane")
    expect(pane).to_be_visible()
    return browser, page, pane, pane.locator(".bnb-input input")


def test_what_is_typed_is_sent_at_any_typing_speed(jupyter_lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser, page, pane, box = _open_pane(playwright, jupyter_lab)
        try:
            said = ["Hi", "Hi", "Hello there", "Hi", "ok", "Hi"]
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
            box.fill("Half")  # typed, left, back, Enter: the text left in the box is sent
            pane.locator(".bnb-state").click()
            box.press("Enter")
            expect(pane.locator(".bnb-bubble", has_text="You said: Half")).to_be_visible()
            expect(box).to_have_value("")
        finally:
            page.screenshot(path=str(SCREENSHOT_DIR / "pane_fast_typing.png"), full_page=True)
            browser.close()


@pytest.mark.xfail(strict=True, reason=(
    "ipywidgets' Text view stops every keydown in the box from reaching JupyterLab (which "
    "handles shortcuts in the bubbling phase), so Ctrl+S there cannot save without a custom "
    "front end for the box; strict: this test starts failing the day it works"))
def test_ctrl_s_in_the_chat_box_saves_the_notebook(jupyter_lab: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser, page, pane, box = _open_pane(playwright, jupyter_lab)
        try:
            box.click()
            page.keyboard.type("Hi")
            page.keyboard.press("Enter")
            expect(pane.locator(".bnb-bubble", has_text="Count: 1")).to_be_visible()
            tab = page.locator(".lm-TabBar-tab", has_text="chat.ipynb")
            assert "jp-mod-dirty" in (tab.first.get_attribute("class") or "")  # ran, unsaved
            box.click()
            page.keyboard.press("Control+s")
            expect(tab.first).not_to_have_class(re.compile("jp-mod-dirty"), timeout=5_000)
            saved = json.loads((tmp_path / "chat.ipynb").read_text())
            assert saved["cells"][-1]["outputs"], "the %chat output was saved"
        finally:
            browser.close()
