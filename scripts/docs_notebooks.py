"""The teaching notebooks, executed, as pages of the documentation site (a MkDocs hook).

``notebooks/`` is committed without outputs, yet the site must show each lesson as a reader
who ran it sees it, the chat's saved copy included. So before MkDocs reads its pages, this hook
runs every notebook top to bottom in a real kernel (nbclient), in a scratch copy where what a
notebook writes cannot reach the repository, and hands the executed copies to mkdocs-jupyter as
``notebooks/*.ipynb``. Widget state is not stored: a ``%chat`` output then shows its plain-HTML
saved copy, as on GitHub or nbviewer.

Executed copies are kept under ``build/docs-notebooks/<hash>/``, the hash of the notebooks and
the package's source, so ``mkdocs serve`` rebuilds in a second and a change to either runs them
again. ``BOTTENDER_NB_DOCS_CACHE`` moves that directory (the docs test builds from scratch).

Run on its own (``python scripts/docs_notebooks.py``) it only executes them and prints where.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
log = logging.getLogger("mkdocs.hooks.docs_notebooks")  # under "mkdocs": --strict counts it
CELL_TIMEOUT = 120  # seconds; generous, as the machines that build docs are often busy


def cache_root() -> Path:
    return Path(os.environ.get("BOTTENDER_NB_DOCS_CACHE", ROOT / "build" / "docs-notebooks"))


def source_hash() -> str:
    """What the executed notebooks depend on: the notebooks and the package they import."""
    digest = hashlib.sha256()
    sources = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((ROOT / "bottender_nb").rglob("*.py"))
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def executed_notebooks() -> Path:
    """The directory holding ``notebooks/``, every notebook executed (run now unless there)."""
    done = cache_root() / source_hash()
    if not (done / "complete").exists():
        scratch = Path(tempfile.mkdtemp(prefix="bottender-nb-docs-"))
        try:
            _execute_all(scratch / "notebooks", done / "notebooks")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        (done / "complete").touch()
        for older in cache_root().iterdir():  # copies made from sources that are gone
            if older != done and re.fullmatch(r"[0-9a-f]{16}", older.name):
                shutil.rmtree(older, ignore_errors=True)
    return done


def _execute_all(workdir: Path, done: Path) -> None:
    shutil.copytree(NOTEBOOKS, workdir,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".sessions"))
    done.mkdir(parents=True, exist_ok=True)
    with _redis_url() as redis_url:
        for path in sorted(workdir.glob("*.ipynb")):
            _execute(path, _kernel_env(redis_url), done / path.name)


def _execute(path: Path, env: dict[str, str], target: Path) -> None:
    """Run one notebook in its own fresh kernel, stopping at the first failing cell."""
    import nbformat
    from nbclient import NotebookClient

    started = time.monotonic()
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, kernel_name="python3", timeout=CELL_TIMEOUT, store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute(env=env, cwd=str(path.parent))
    nbformat.write(notebook, target)
    print(f"docs: executed {path.name} in {time.monotonic() - started:.1f} s", file=sys.stderr)


def _kernel_env(redis_url: str) -> dict[str, str]:
    """The kernel imports this checkout's package and finds this interpreter's scripts."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["REDIS_URL"] = redis_url
    env["MPLBACKEND"] = "agg"
    return env


@contextmanager
def _redis_url() -> Iterator[str]:
    """A redis-server of the build's own on a free loopback port, when one is installed.

    Never the developer's own server (notebook 5 writes and deletes keys). Without
    redis-server, a port where nothing listens: the notebook then says how to get one.
    """
    port = _free_port()
    program = shutil.which("redis-server")
    if program is None:
        yield f"redis://127.0.0.1:{port}/0"
        return
    with tempfile.TemporaryDirectory(prefix="bottender-nb-docs-redis-") as dirname:
        server = subprocess.Popen(
            [program, "--port", str(port), "--bind", "127.0.0.1", "--dir", dirname,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(port, server)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while server.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server for the docs did not start on port {port}")


# -- the MkDocs hook ------------------------------------------------------------------------

try:
    from mkdocs.plugins import event_priority
except ImportError:  # run as a script without MkDocs
    def event_priority(priority: int):  # type: ignore[no-redef]
        return lambda function: function


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files, config):  # noqa: ANN001, ANN201 - MkDocs' hook signature
    """Add the executed notebooks as ``notebooks/<name>.ipynb``, and the course's index
    (``notebooks/README.md``, whose links to the notebooks MkDocs then checks)."""
    from mkdocs.structure.files import File

    executed = executed_notebooks()
    where = {"dest_dir": config["site_dir"], "use_directory_urls": config["use_directory_urls"]}
    for path in sorted((executed / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{path.name}", src_dir=str(executed), **where))
    files.append(File("notebooks/README.md", src_dir=str(ROOT), **where))
    return files


_HREF = re.compile(r'href="([^"#:?]+)(#[^"]*)?"')


def on_page_content(html, page, config, files):  # noqa: ANN001, ANN201 - MkDocs' hook signature
    """A notebook page: its table of contents from its own headings (see :func:`_headings`),
    and its links to its neighbours (``02-....ipynb``, ``README.md``) pointed at their pages.

    MkDocs checks the links of Markdown pages itself, but a notebook reaches it as HTML: a
    relative link here to nothing on the site is a warning, so ``--strict`` fails on it.
    """
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    from mkdocs.structure.toc import get_toc

    page.toc = get_toc(_headings(html))  # see _headings

    def resolve(match: re.Match[str]) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        src_uri = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), target))
        found = files.get_file_from_path(src_uri)
        if found is None:
            log.warning("Doc file '%s' contains a link '%s', but the target '%s' is not found "
                        "among documentation files.", page.file.src_uri, target, src_uri)
            return match.group(0)
        return f'href="{found.url_relative_to(page.file)}{anchor}"'

    return _HREF.sub(resolve, html)


_HEADING = re.compile(r'<h([1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S)


def _headings(html: str) -> list[dict]:
    """The page's table of contents from its own headings, nested by level.

    mkdocs-jupyter builds it from a Markdown copy of the notebook that drops code spans
    (``## `%turns`: what happened`` becomes ``: what happened``), so its entries lose words
    and point at anchors the page does not have.
    """
    tokens: list[dict] = []
    stack: list[dict] = []
    for level, anchor, inner in _HEADING.findall(html):
        name = unescape(re.sub(r"<[^>]+>", "", inner)).replace("\u00b6", "").strip()
        token = {"level": int(level), "id": anchor, "name": name, "children": []}
        while stack and stack[-1]["level"] >= token["level"]:
            stack.pop()
        (stack[-1]["children"] if stack else tokens).append(token)
        stack.append(token)
    return tokens


def on_serve(server, config, builder):  # noqa: ANN001, ANN201 - MkDocs' hook signature
    """``mkdocs serve`` also rebuilds when a notebook or the package changes."""
    server.watch(str(NOTEBOOKS))
    server.watch(str(ROOT / "bottender_nb"))
    return server


if __name__ == "__main__":
    print(executed_notebooks())
