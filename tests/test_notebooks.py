"""Every teaching notebook runs top to bottom in a real ``python3`` kernel and shows its lesson.

Each notebook is executed with nbclient in a temporary copy of ``notebooks/`` (so the files a
notebook writes never touch the repository), against a real ``redis-server`` started for the
run when one is installed. The asserts check what a learner must see in the outputs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from kernels import NEEDS_REDIS, NOTEBOOKS, copy_notebooks, ensure_python3_kernel, notebook_env

CELL_TIMEOUT = 60  # seconds a cell may run: a hang guard
# A hang guard for a whole notebook, kernel start included; not a speed target (a loaded
# machine may take any time below it).
NOTEBOOK_HANG_GUARD = 600.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in kernel tracebacks


# -- fixtures: a python3 kernel, a scratch copy of notebooks/ (redis_url: conftest) ----


@pytest.fixture(scope="session")
def kernel_name() -> str:
    """The ``python3`` kernelspec, installed for this interpreter when it is missing."""
    return ensure_python3_kernel()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch copy of ``notebooks/``: what a notebook writes stays out of the repository."""
    return copy_notebooks(tmp_path)


# -- running a notebook ------------------------------------------------------------------


class Executed:
    """An executed notebook: its cells' output text, and how long it took."""

    def __init__(self, notebook: nbformat.NotebookNode, seconds: float) -> None:
        self.notebook = notebook
        self.seconds = seconds
        self.cells = [_cell_text(cell) for cell in notebook.cells if cell.cell_type == "code"]
        self.text = "\n".join(self.cells)

    def outputs_of(self, needle: str) -> str:
        """The output text of the first code cell whose source contains ``needle``."""
        for cell in self.notebook.cells:
            if cell.cell_type == "code" and needle in cell.source:
                return _cell_text(cell)
        raise AssertionError(f"no code cell contains {needle!r}")

    def mime_types(self) -> set[str]:
        return {
            mime for cell in self.notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) for mime in output.get("data", {})
        }


def _cell_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    stream = False
    for output in cell.get("outputs", []):
        if output.output_type == "stream":  # consecutive streams show as one text: a flush
            text = output.text               # may split a line between two of them
            if stream:
                parts[-1] += text
            else:
                parts.append(text)
            stream = True
            continue
        if stream:
            parts[-1] = parts[-1].removesuffix("\n")
        stream = False
        if output.output_type in ("execute_result", "display_data"):
            data = output.get("data", {})
            parts.append(data.get("text/plain", ""))
            parts.append(data.get("text/html", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    if stream:
        parts[-1] = parts[-1].removesuffix("\n")
    return "\n".join(parts)


@pytest.fixture
def run_notebook(kernel_name: str, workdir: Path) -> Callable[..., Executed]:
    def run(name: str, *, redis_url: str | None) -> Executed:
        path = workdir / name
        notebook = nbformat.read(path, as_version=4)
        env = notebook_env(redis_url)
        client = NotebookClient(
            notebook, timeout=CELL_TIMEOUT, kernel_name=kernel_name,
            resources={"metadata": {"path": str(workdir)}},
        )
        before = set(workdir.iterdir())
        started = time.monotonic()
        failure = None
        try:
            client.execute(env=env, cwd=str(workdir))
        except (CellExecutionError, CellTimeoutError) as exc:
            # nbclient's message already holds the failing cell's source and its traceback.
            failure = f"{name}: a cell failed\n{ANSI.sub('', str(exc))}"
        if failure is not None:  # failed outside the except block: the message shows once
            pytest.fail(failure, pytrace=False)
        seconds = time.monotonic() - started
        left = sorted(path.name for path in set(workdir.iterdir()) - before)
        assert not left, f"{name} left files behind: {left}; a notebook cleans up what it writes"
        return Executed(notebook, seconds)

    return run


def _in_order(text: str, lines: list[str]) -> bool:
    """True when ``lines`` appear in ``text`` in this order (other lines may come between)."""
    position = 0
    for line in lines:
        found = text.find(line, position)
        if found < 0:
            return False
        position = found + len(line)
    return True


# -- what each notebook must show --------------------------------------------------------


def check_counting_bot(run: Executed, redis_url: str | None) -> None:
    static = run.outputs_of("%say Hi")
    assert _in_order(static, ["You > Hi", "Bot > Count: 1", "You > Hi", "Bot > Count: 1"]), static
    counting = run.outputs_of("The second Hi reads")
    transcript = ["You > Hi", "Bot > Count: 1", "You > Hi", "Bot > Count: 2"]
    assert counting.split("\n")[:4] == transcript, counting
    assert "application/vnd.jupyter.widget-view+json" in run.mime_types(), "no chat pane shown"


def check_merge(run: Executed, redis_url: str | None) -> None:
    merged = re.compile(r"""\{\s*["']count["']:\s*1,\s*["']myObject["']:\s*\{\}\s*\}""")
    assert merged.search(run.outputs_of("%say Hi")), run.text  # the first %say
    assert merged.search(run.outputs_of("%state")), "%state did not show the merged state"
    assert "'profile': {'language': 'fr'}" in run.text, "the nested replacement is not shown"
    assert "'profile': {'name': 'Ada', 'language': 'fr'}" in run.text, "no explicit deep merge"
    assert "(a TypeError): context.state is read-only: call context.set_state(" in run.text


def check_debugging(run: Executed, redis_url: str | None) -> None:
    assert '"count": 2' in run.outputs_of("%state"), "%state did not show the count"
    assert '"count": 2' in run.outputs_of('pane.send("/state")'), "/state in the pane"
    assert '"_state"' in run.outputs_of('pane.send("/session")'), "/session in the pane"
    console = run.outputs_of("bottender-nb console")
    assert _in_order(console, ["Bot > Count: 1", "Bot > Count: 2", '"count": 2']), console


def check_session_ids(run: Executed, redis_url: str | None) -> None:
    for session_id in ("session console:1", "session telegram:427770117", "session line:U"):
        assert session_id in run.text, f"{session_id} not shown"
    shared = re.findall(r"^(\w+) in the group -> (line:\S+)", run.text, re.M)
    private = re.findall(r"^(\w+) in private -> (line:\S+)", run.text, re.M)
    assert len(shared) == 2 and shared[0][1] == shared[1][1], shared  # the group shares one
    assert len(private) == 2 and private[0][1] != private[1][1], private  # private chats do not
    assert shared[0][1] not in {session_id for _, session_id in private}
    said = run.outputs_of("%say Hi --platform line")
    assert _in_order(said, ["Count: 1 in session line:C_family", "Count: 2 in session line:C_family"])


def check_storage(run: Executed, redis_url: str | None) -> None:
    assert "evicted: ['console:bob']" in run.text, "LRU eviction not shown"
    listed = run.outputs_of('glob("*.json")')
    assert ".sessions/console:1.json" in listed, listed
    assert '"_state"' in run.outputs_of("read_text()"), "no session file printed"
    expiry = run.outputs_of("advance(29)")
    assert "29 minutes later: ['Count: 2" in expiry and "31 minutes later: ['Count: 1" in expiry
    assert "0.6 s later: ['Count: 1" in run.text, "expiry with a timedelta not shown"
    if redis_url is None:
        assert "redis-server" in run.text and "Skipped" in run.text
    else:
        assert 'Redis key console:redis-demo = {"id":"console:redis-demo"' in run.text, run.text
        assert "['Count: 3 (console:redis-demo)']" in run.text, "a second bot did not share it"


def check_race(run: Executed, redis_url: str | None) -> None:
    naive = re.search(r"naive handler: count = (\d+) after (\d+) messages", run.text)
    kit = re.search(r"through Bot: count = (\d+) after (\d+) messages", run.text)
    assert naive and kit, run.text
    assert int(naive[1]) < int(naive[2]), naive[0]
    assert int(kit[1]) == int(kit[2]), kit[0]


def check_analysis(run: Executed, redis_url: str | None) -> None:
    frame = run.outputs_of("%sessions .sessions")
    assert "<table" in frame and "state.count" in frame, "no sessions DataFrame shown"
    assert "notes.json" in run.text, "the bad file is not reported"
    assert "image/png" in run.mime_types(), "no plot shown"
    # the exported turns: the same funnel on pandas and on DuckDB, both shown, equal
    on_pandas = _funnel_counts(run.outputs_of("on_pandas = funnel("))
    on_duckdb = _funnel_counts(run.outputs_of("on_duckdb = funnel("))
    assert on_duckdb == on_pandas, f"DuckDB's funnel {on_duckdb} is not pandas' {on_pandas}"
    sessions = int(re.search(r"(\d+) session files", run.text).group(1))
    assert on_pandas[0] == sessions, "every session's first message is its count 1"
    assert on_pandas == sorted(on_pandas, reverse=True) and on_pandas[-1] < on_pandas[0], on_pandas
    assert run.outputs_of("on_duckdb.df().equals(on_pandas)").strip() == "True"


def _funnel_counts(text: str) -> list[int]:
    """Sessions per step of the notebook's message funnel, from a pandas or a DuckDB table's text."""
    counts = [re.search(rf"{step}\W+(\d+)", text) for step in ("1 message", "3 messages", "5 messages")]
    assert all(counts), f"a funnel step is missing from:\n{text}"
    return [int(count.group(1)) for count in counts]


def check_testing(run: Executed, redis_url: str | None) -> None:
    assert "1 passed" in run.text, "the recorded test does not pass on the bot it was recorded from"
    assert "AssertionError: turn 1 (event 'mushroom'): the bot's replies changed" in run.text
    differences = run.outputs_of("replay(bot.history")
    assert "Great choice!" in differences and "MUSHROOM" in differences
    assert "Three is plenty!" in run.outputs_of("%replay")
    assert "Wrote tests/test_counter.py (3 turns of console:1)" in run.text
    assert "Updated tests/counter_action.py" in run.text  # %%action kept the test's module current
    counter = run.outputs_of('run_pytest(Path("tests/test_counter.py"))')
    assert "AssertionError: turn 2 (event 'Hi'): the bot's replies changed" in counter, counter
    assert "warning" not in run.text.lower(), "pytest's runs show warnings (another project's settings?)"
    assert "tests" not in run.outputs_of('shutil.rmtree("tests"')
def check_time_travel(run: Executed, redis_url: str | None) -> None:
    said = run.outputs_of("%say Lodnon")
    assert _in_order(said, ["Bot > Hi! What is your name?", "Bot > Nice to meet you, Ada!",
                            "Bot > So you are Ada from Lodnon."]), said
    table = run.outputs_of("%turns")
    assert "<table" in table and "Lodnon" in table and "<td>step, city</td>" in table, table
    assert 'Rewound console:1 to turn 1 (kept as turn 3); state: {"step": "city", "name": "Ada"}' in run.text
    assert "Saved: Ada from London." in run.outputs_of("%say London")
    assert "Forked console:1 at turn 1 into console:paris" in run.text
    assert "Saved: Ada from Paris." in run.outputs_of("%say Paris --user paris")
    refused = run.outputs_of("%fork 1 --to paris")
    assert "UsageError: 'console:paris' already exists" in run.text, refused
    python = run.outputs_of('bot.rewind("console:1", 1)')
    assert _in_order(python, ["So you are Grace from New York.", "console:boston",
                              "So you are Grace from Boston."]), python
    pane = run.outputs_of("pane.timeline.select(1)")
    assert "state after turn 1: {'step': 'city', 'name': 'Ada'} changed: ['name', 'step']" in pane, pane
    assert _in_order(pane, ["fork: console:1-fork1", "Note > Rewound console:1 to turn 1",
                            "You > London", "Note > Forked console:1 at turn 1 into console:1-fork1",
                            "User 1-fork1 > Paris", "Bot > So you are Ada from Paris."]), pane
    assert "2  fork of console:1 at 1" in run.outputs_of("pane.timeline.labels")
    assert "application/vnd.jupyter.widget-view+json" in run.mime_types(), "no chat pane shown"
    assert "state.city" in run.outputs_of("turns_frame(bot)"), "no turns DataFrame shown"


def check_real_platforms(run: Executed, redis_url: str | None) -> None:
    posted = run.outputs_of("for name, body, secret in")
    assert "signed: 200" in posted and "forged: 401" in posted, posted
    shown = run.outputs_of("print(pane.transcript)")
    assert _in_order(shown, ["[('You', 'Hello from LINE'), ('Bot', 'Count: 1')]",
                             "Hello from LINE -> {'count': 1}",
                             "LINE was asked to send: ['Count: 1']"]), shown
    assert "Give me all your data" not in shown
    assert "200 - turns kept: 1" in run.outputs_of("again = httpx.post"), "a redelivery was handled"
    assert "/webhooks/line" in run.outputs_of("serving = bot.serve(port=0)")
    assert "application/vnd.jupyter.widget-view+json" in run.mime_types(), "no chat pane shown"
    for secret in ("demo-channel-secret-for-notebook-10", "demo-access-token-for-notebook-10"):
        assert secret not in run.text, f"a secret is shown in full: {secret}"
    assert "(stopped)" in run.outputs_of("serving.stop()")


CHECKS: dict[str, Callable[[Executed, str | None], None]] = {
    "01-counting-bot.ipynb": check_counting_bot,
    "02-state-updates-are-merged.ipynb": check_merge,
    "03-debugging-state.ipynb": check_debugging,
    "04-session-ids.ipynb": check_session_ids,
    "05-session-storage.ipynb": check_storage,
    "06-concurrent-messages.ipynb": check_race,
    "07-analysing-sessions.ipynb": check_analysis,
    "08-time-travel.ipynb": check_time_travel,
    "09-testing-your-bot.ipynb": check_testing,
    "10-real-platforms.ipynb": check_real_platforms,
}


def test_every_notebook_has_a_check() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("[0-9]*.ipynb")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs_and_teaches(
    name: str, run_notebook: Callable[..., Executed], request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if name in NEEDS_REDIS else None
    run = run_notebook(name, redis_url=redis_url)
    print(f"{name}: {run.seconds:.1f} s")
    CHECKS[name](run, redis_url)
    assert run.seconds < NOTEBOOK_HANG_GUARD, f"{name} took {run.seconds:.1f} s: hung?"


def test_storage_notebook_without_redis_says_how_to_start_one(
    run_notebook: Callable[..., Executed],
) -> None:
    """No server at $REDIS_URL: the notebook still runs, says how to start one, skips that part."""
    run = run_notebook("05-session-storage.ipynb", redis_url=None)
    check_storage(run, None)
    assert "sudo apt-get install redis-server" in run.text
