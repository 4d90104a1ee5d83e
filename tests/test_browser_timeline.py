"""The chat pane's timeline end to end: JupyterLab, a real kernel, Debian's Chromium (Playwright).

Chat three messages with the counting bot, pick turn 1 in the timeline, press *Rewind here*,
send again: the count continues from turn 1. Reuses tests/test_browser.py's server fixture and
notebook (its bot replies "Count: n"); like it, never skipped: missing pieces fail.
"""

from __future__ import annotations

import pytest

from test_browser import (  # noqa: F401  (jupyter_lab is a fixture)
    SCREENSHOT_DIR, _run_all_cells, _type_and_enter, chromium_page, jupyter_lab,
)

pytestmark = pytest.mark.browser


def test_rewind_from_the_timeline_in_jupyterlab(jupyter_lab: str) -> None:
    from playwright.sync_api import expect

    screenshot = SCREENSHOT_DIR / "timeline.png"
    with chromium_page(height=1100) as page:
        try:
            _run_all_cells(page, f"{jupyter_lab}/lab/tree/chat.ipynb")
            pane = page.locator(".bnb-pane")
            expect(pane).to_be_visible()
            box = pane.locator(".bnb-input input")
            transcript = pane.locator(".bnb-transcript")
            rows = pane.locator(".bnb-timeline option")
            for count in (1, 2, 3):  # turns 0, 1, 2
                _type_and_enter(box, "Hi")
                expect(transcript.get_by_text(f"Count: {count}", exact=True)).to_be_visible()
            expect(rows).to_have_count(3)
            expect(rows.nth(1)).to_have_text("1  Hi → Count: 2  · count")

            rows.nth(1).click()  # turn 1: the state after it is {"count": 2}
            state = pane.locator(".bnb-state")
            expect(state).to_contain_text("State after turn 1")
            expect(state.locator(".bnb-state-key.bnb-changed")).to_have_text("count: 2")
            rewind = pane.locator(".bnb-timeline button", has_text="Rewind here")
            expect(rewind).to_be_enabled()
            rewind.click()
            expect(transcript.locator(".bnb-note", has_text="Rewound console:1 to turn 1")).to_be_visible()
            expect(rows).to_have_count(4)
            expect(rows.nth(3)).to_have_text("3  ⟲ rewind to 1  · count")
            expect(state).to_contain_text("Session state")
            expect(state.locator(".bnb-state-key")).to_have_text("count: 2")

            _type_and_enter(box, "Hi")  # continues from turn 1's count of 2
            expect(transcript.get_by_text("Count: 3", exact=True)).to_have_count(2)
            expect(rows).to_have_count(5)
            expect(rows.nth(4)).to_have_text("4  Hi → Count: 3  · count")
            expect(transcript.get_by_text("Count: 4", exact=True)).to_have_count(0)
            expect(state.locator(".bnb-state-key")).to_have_text("count: 3")
            rows.nth(2).click()  # for the screenshot: a picked turn, its state and its buttons
            expect(state).to_contain_text("State after turn 2")
            expect(pane.locator(".bnb-turn-detail")).to_contain_text("Turn 2 (event at")
        finally:
            pane_box = page.locator(".bnb-pane")
            if pane_box.count():
                pane_box.screenshot(path=str(screenshot))
            else:
                page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot: {screenshot}")


def test_the_timeline_scrolls_to_the_newest_turn(jupyter_lab: str) -> None:
    """More turns than the timeline's box holds: the newest row is in view after each."""
    from playwright.sync_api import expect

    with chromium_page(height=1100) as page:
        _run_all_cells(page, f"{jupyter_lab}/lab/tree/chat.ipynb")
        pane = page.locator(".bnb-pane")
        box = pane.locator(".bnb-input input")
        rows = pane.locator(".bnb-timeline option")
        scroller = pane.locator(".bnb-timeline-list")
        for count in range(1, 16):
            _type_and_enter(box, "Hi")
            expect(rows).to_have_count(count)
        expect(rows.nth(14)).to_contain_text("Count: 15")
        page.wait_for_timeout(500)  # let layout settle
        inside = scroller.evaluate("""list => {
            const rows = list.querySelectorAll('option');
            const last = rows[rows.length - 1].getBoundingClientRect();
            const view = list.getBoundingClientRect();
            return {overflows: list.scrollHeight > list.clientHeight + 1,
                    lastTop: last.top, lastBottom: last.bottom, top: view.top, bottom: view.bottom};
        }""")
        page.screenshot(path=str(SCREENSHOT_DIR / "timeline_scroll.png"), full_page=True)
        assert inside["overflows"], inside  # 15 rows do not fit: there is something to scroll
        assert inside["top"] <= inside["lastTop"] and inside["lastBottom"] <= inside["bottom"] + 1, inside
