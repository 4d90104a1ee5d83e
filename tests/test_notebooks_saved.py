"""A saved notebook shows its chat where no kernel runs: nbconvert's HTML, GitHub, nbviewer.

A notebook with ``%chat`` and then ``%say`` cells is executed (nbclient), saved without widget
state, and converted with ``jupyter nbconvert --to html``. The page must show the chat to its
last reply and the session state, as plain escaped HTML: no script, nothing fetched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from kernels import IMAGE, SCRIPT, saved_chat_html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, BeautifulSoup]:
    notebook, html = saved_chat_html(tmp_path_factory.mktemp("saved"))
    return notebook, BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")


def chat_output(page: BeautifulSoup):
    """The output area of the ``%chat`` cell in nbconvert's page."""
    for cell in page.select(".jp-CodeCell"):
        source = cell.select_one(".jp-InputArea")
        if source is not None and source.get_text().strip().endswith("%chat"):
            return cell.select_one(".jp-OutputArea")
    raise AssertionError("no %chat cell in the page")


def test_the_saved_notebook_needs_no_widget_state(saved) -> None:
    notebook, _page = saved
    assert "widgets" not in notebook.metadata
    chat = next(cell for cell in notebook.cells if cell.source == "%chat")
    live, copy = chat.outputs
    assert WIDGET_VIEW in live["data"]  # the live pane, for front ends with widgets
    assert set(copy["data"]) == {"text/html", "text/plain"}  # the copy, for everyone else


def test_the_page_shows_the_chat_to_its_last_reply_and_the_state(saved) -> None:
    _notebook, page = saved
    copy = chat_output(page).select_one(".bnb-saved")
    assert copy is not None, "the %chat output has no saved copy of the chat"
    text = copy.get_text(" ", strip=True)
    assert text.startswith("Session: console:1"), text
    # every message, sent by the %say cells after %chat, in order, to the last reply
    said = ["You Hi", "Bot Count: 1", f"You {SCRIPT}", "Bot Count: 2", f"Bot You said: {SCRIPT}",
            f"You {IMAGE}", "Bot Count: 3", f"Bot You said: {IMAGE}", "You Bye", "Bot Count: 4",
            "Bot You said: Bye"]
    positions = [text.find(line) for line in said]
    assert -1 not in positions and positions == sorted(positions), (said, text)
    panel = copy.find(string="Session state").find_parent("div")
    rows = [row.get_text() for row in panel.find_all("div")]
    assert rows == ["count: 4 changed"], rows  # the state after the last message


def test_the_page_shows_the_timeline_and_no_widget_text(saved) -> None:
    _notebook, page = saved
    output = chat_output(page)
    assert "ChatPane(" not in output.get_text()  # no repr above the copy
    timeline = output.select_one(".bnb-saved").find(string="Timeline").find_parent("div")
    rows = [row.get_text() for row in timeline.find_all("div") if not row.find("div")]
    assert len(rows) == 4 and rows[0].startswith("0  Hi") and rows[-1].startswith("3  Bye"), rows


def test_the_copy_is_plain_html(saved) -> None:
    _notebook, page = saved
    copy = chat_output(page).select_one(".bnb-saved")
    assert copy.find_all(["script", "img", "iframe", "link", "style"]) == []
    attributes = {name for tag in copy.find_all(True) for name in tag.attrs}
    assert attributes <= {"class", "style"}, attributes  # no on* handlers, no src or href
    assert "url(" not in str(copy)  # nothing fetched, not even by a style
