"""The documentation site builds, strictly, as CI and a reader get it.

``mkdocs build --strict`` runs once for the module, in a subprocess, into a temporary directory,
with this checkout's package on ``PYTHONPATH`` and the teaching notebooks executed from scratch
(their cache in a temporary directory too): a broken link, a missing API reference or a
notebook that no longer runs fails it. The built pages are then read as a reader gets them,
and one is opened in Chromium.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

import bottender_nb

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT_DIR = REPO / "test-output" / "docs"
# Public names that are not meant to be documented: the deprecated one, and IPython's hooks.
UNDOCUMENTED = {"__version__"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with ``mkdocs build --strict`` as the README says; fails with its log."""
    tmp = tmp_path_factory.mktemp("docs")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                                    os.environ.get("PYTHONPATH")])),
               BOTTENDER_NB_DOCS_CACHE=str(tmp / "notebooks"), NO_MKDOCS_2_WARNING="1")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp / "site")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    log = built.stdout + built.stderr
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    return tmp / "site"


def page(site: Path, url: str) -> BeautifulSoup:
    return BeautifulSoup((site / url / "index.html").read_text(encoding="utf-8"), "html.parser")


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    documented = {}  # heading id -> what mkdocstrings documented there (class, function ...)
    for html in (site / "reference" / "api").glob("*/index.html"):
        soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
        for entry in soup.select("div.doc-object"):
            heading = entry.find(id=lambda anchor: anchor and anchor.startswith("bottender_nb."))
            kind = next(c for c in entry["class"] if c.startswith("doc-") and c != "doc-object")
            documented.setdefault(heading["id"], kind)
    public = set(bottender_nb.__all__) - UNDOCUMENTED
    missing = sorted(name for name in public if f"bottender_nb.{name}" not in documented)
    assert not missing, f"public names with no entry in docs/reference/api/: {missing}"
    # A name that resolves to a module of the same name (testing/replay.py for replay)
    # would document the module instead of the function users import.
    modules = sorted(name for name in public if documented[f"bottender_nb.{name}"] == "doc-module")
    assert not modules, f"these public names are documented as modules: {modules}"


def test_the_api_reference_shows_the_docstrings(site: Path) -> None:
    bot = page(site, "reference/api/bot").find(id="bottender_nb.Bot").find_parent("div")
    text = bot.get_text(" ", strip=True)
    assert "Runs action for every event" in text, text[:500]
    assert "handle_request" in text and "webhook_app" in text
    assert ":meth:" not in text and ":class:" not in text  # Sphinx roles read as code


def test_a_rendered_notebook_shows_its_chat_and_links_to_the_next(site: Path) -> None:
    soup = page(site, "notebooks/10-real-platforms")
    saved = soup.select_one(".bnb-saved")
    assert saved is not None, "the %chat output's saved copy is not on the page"
    text = saved.get_text(" ", strip=True)
    assert "Hello from LINE" in text and "Count: 1" in text, text  # the real user's turn, live
    panel = saved.find(string="Session state").find_parent("div")
    assert [row.get_text() for row in panel.find_all("div")] == ["count: 1 changed"], text
    first = page(site, "notebooks/01-counting-bot")
    hrefs = [a["href"] for a in first.select("article a[href]")]
    assert "../02-state-updates-are-merged/" in hrefs, hrefs  # not 02-....ipynb, a 404 here


def test_a_notebook_pages_contents_lead_to_its_headings(site: Path) -> None:
    soup = page(site, "notebooks/08-time-travel")
    contents = {a["href"][1:]: a.get_text(strip=True)
                for a in soup.select("nav.md-nav--secondary a[href^='#']")}
    assert contents.get("turns-what-happened") == "%turns: what happened", contents
    missing = sorted(anchor for anchor in contents if soup.find(id=anchor) is None)
    assert not missing, f"contents entries with no heading on the page: {missing}"


@pytest.fixture
def served(site: Path) -> Iterator[str]:
    """The site over HTTP on loopback (directory URLs need a server, not file://)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.mark.browser
def test_the_site_in_chromium(served: str) -> None:
    """The guide, an API page and a notebook with its chat, as Chromium draws them."""
    from playwright.sync_api import expect

    from test_browser import chromium_page

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with chromium_page() as tab:
        tab.goto(served + "guarantees/")
        expect(tab.locator("h1")).to_contain_text("Guarantees")
        tab.screenshot(path=str(SCREENSHOT_DIR / "guarantees.png"))
        tab.goto(served + "reference/api/bot/")
        expect(tab.locator("[id='bottender_nb.Bot']")).to_be_visible()
        tab.screenshot(path=str(SCREENSHOT_DIR / "api-bot.png"))
        tab.goto(served + "notebooks/10-real-platforms/")
        chat = tab.locator(".bnb-saved").first
        chat.scroll_into_view_if_needed()
        expect(chat).to_be_visible()
        expect(chat).to_contain_text("Hello from LINE")
        tab.screenshot(path=str(SCREENSHOT_DIR / "notebook-chat.png"))
