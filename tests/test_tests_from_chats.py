"""Tests from chats: write_test files run under plain pytest, replay finds changes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bottender_nb import Bot, HistoryError, replay, write_test
from bottender_nb.testing import MISSING, TestWriteError
from bottender_nb.testing.replay import replay_pairs
from kernels import execute, stream

COUNTING_BOT = '''
async def App(context):
    number = context.state["count"] + 1
    context.set_state(count=number)
    await context.send_text(f"Count: {number}")
'''


def make_module(folder: Path, name: str, source: str):
    """Write and import a bot module from ``folder``, as a user's project would have it."""
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop(name, None)
        return __import__(name)
    finally:
        sys.path.remove(str(folder))


def run_pytest(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Plain pytest in a subprocess: no kernel, no notebook, no server."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider"],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def bot_module(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    module = make_module(project, "countbot_for_tests", COUNTING_BOT)
    yield project, module
    sys.modules.pop("countbot_for_tests", None)


def test_a_written_test_passes_then_names_the_turn_a_change_breaks(bot_module, tmp_path):
    project, module = bot_module
    bot = Bot(module.App, initial_state={"count": 0})
    for text in ("Hi", "Again", "Once more"):
        bot.say(text)
    path = write_test(project / "tests", bot, "console:1")
    assert path.name == "test_console_1.py" and path.with_name("test_console_1.turns.json").exists()
    passed = run_pytest(path, tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout

    source = (project / "countbot_for_tests.py").read_text()
    (project / "countbot_for_tests.py").write_text(
        source.replace('f"Count: {number}"', 'f"Count: {number}" if number < 3 else "Three!"')
    )
    failed = run_pytest(path, tmp_path)
    assert failed.returncode == 1
    assert "turn 2 (event 'Once more'): the bot's replies changed" in failed.stdout
    assert "'Three!'" in failed.stdout and "'Count: 3'" in failed.stdout


COUNT_CELL = ("%%action\nnumber = context.state['count'] + 1\ncontext.set_state(count=number)\n"
              "await context.send_text(f'Count: {number}')")
PYTEST_IN_KERNEL = (  # the recorded test, run from the notebook before the action changes
    "import subprocess, sys\n"
    "print(subprocess.run([sys.executable, '-m', 'pytest', 'tests/test_chat.py', '-q', '-p',"
    " 'no:cacheprovider'], capture_output=True, text=True).stdout)"
)


def test_a_test_recorded_from_an_action_cell_checks_the_action_as_it_is_now(tmp_path):
    """Record, edit the %%action cell and run it again, then plain pytest: it fails at the
    turn the edit changed (the test reads the action module %%action keeps current)."""
    notebook_dir = tmp_path / "nb"
    notebook_dir.mkdir()
    outputs = execute([
        "%load_ext bottender_nb",
        '%%bottender_config\n{"initialState": {"count": 0}}',
        COUNT_CELL,
        "%say Hi\n%say Hi\n%say Hi",
        "%record_test tests/test_chat.py",
        PYTEST_IN_KERNEL,
        COUNT_CELL.replace("f'Count: {number}'", "f'Count: {number}' if number < 3 else 'Enough!'"),
    ], notebook_dir, timeout=120)
    assert "Wrote tests/test_chat.py (3 turns of console:1)" in stream(outputs[4])
    assert "Recorded console:1 (the last session talked to" in stream(outputs[4])
    assert "1 passed" in stream(outputs[5]), stream(outputs[5])
    assert "Updated tests/chat_action.py" in stream(outputs[6]), outputs[6]
    test_file = notebook_dir / "tests" / "test_chat.py"
    assert "%%action App rewrites that module" in test_file.read_text()
    result = run_pytest(test_file, tmp_path)  # plain pytest, no kernel
    assert result.returncode == 1, result.stdout + result.stderr
    assert "turn 2 (event 'Hi'): the bot's replies changed" in result.stdout
    assert "'Enough!'" in result.stdout and "'Count: 3'" in result.stdout


def test_replay_in_the_notebook_shows_what_changed(tmp_path):
    outputs = execute([
        "%load_ext bottender_nb",
        '%%bottender_config\n{"initialState": {"count": 0}}',
        "%%action\nnumber = context.state['count'] + 1\ncontext.set_state(count=number)\n"
        "await context.send_text(f'Count: {number}')",
        "%say Hi\n%say Hi",
        "%%action\nnumber = context.state['count'] + 2\ncontext.set_state(count=number)\n"
        "await context.send_text(f'Count: {number}')",
        "%replay",
        "%replay console:nobody",
        "%replay 'console:1'",  # quoted, as %state takes it
        '%record_test "tests/test_quoted.py" "console:1"',
    ], tmp_path, timeout=120)
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs[5])
    assert "Count: 1" in html and "Count: 2" in html and "expected" in html
    quoted = "".join(o.get("data", {}).get("text/html", "") for o in outputs[7])
    assert "Count: 1" in quoted and "Count: 2" in quoted, outputs[7]
    assert "Wrote tests/test_quoted.py (2 turns of console:1)" in stream(outputs[8]), outputs[8]
    shown = stream(outputs[6], "stderr")  # IPython shows a UsageError as one line
    assert shown.startswith("UsageError: ") and "console:nobody" in shown and "Traceback" not in shown


async def count(context):
    number = context.state["count"] + 1
    context.set_state(count=number)
    await context.send_text(f"Count: {number}")


async def count_by_two(context):
    number = context.state["count"] + 2
    context.set_state(count=number, step="two")
    await context.send_text(f"Count: {number}")


def chatted(action=count, times: int = 3) -> Bot:
    bot = Bot(action, initial_state={"count": 0})
    for _ in range(times):
        bot.say("Hi")
    return bot


def test_replay_of_the_same_bot_finds_nothing():
    bot = chatted()
    frame = replay(bot.history("console:1"), bot)
    assert frame.empty and list(frame.columns) == ["turn", "what", "key", "expected", "actual"]


def test_replay_names_changed_replies_and_state():
    recorded = chatted().history("console:1")
    frame = replay(recorded, Bot(count_by_two, initial_state={"count": 0}))
    rows = [tuple(row) for row in frame.itertuples(index=False)]
    assert (0, "reply", 0, "Count: 1", "Count: 2") in rows
    assert (0, "state", "count", 1, 2) in rows
    assert (0, "state", "step", MISSING, "two") in rows
    assert (2, "state", "count", 3, 6) in rows


def test_replay_follows_rewinds_and_a_history_that_starts_late():
    bot = Bot(count, initial_state={"count": 0}, history=3)
    for _ in range(5):
        bot.say("Hi")
    bot.rewind("console:1", 3)
    bot.say("Hi")
    turns = bot.history("console:1")
    assert [t.index for t in turns] == [4, 5, 6]
    assert replay(turns, bot).empty
    recorded_dicts = json.loads(json.dumps([t.as_record() for t in turns]))
    assert replay(recorded_dicts, bot).empty


def test_replay_of_a_fork_replays_its_copied_turns_under_its_own_id():
    bot = chatted()
    new_id = bot.fork("console:1", 1, to="alt")
    bot.say("Hi", user="alt")
    turns = bot.history(new_id)
    assert replay(turns, bot).empty
    replayed = [(t.kind, t.session_id, t.replies, t.state) for _, t in replay_pairs(turns, bot)]
    assert replayed == [
        ("event", "console:alt", ["Count: 1"], {"count": 1}),
        ("event", "console:alt", ["Count: 2"], {"count": 2}),
        ("fork", "console:alt", [], {"count": 2}),  # the fork turn itself, replayed
        ("event", "console:alt", ["Count: 3"], {"count": 3}),
    ]
    records = [turn.as_record() for turn in turns]
    records[2]["state"] = {"count": 7}  # a fork turn that recorded another state is caught
    assert [tuple(row) for row in replay(records, bot).itertuples(index=False)] == [
        (2, "state", "count", 7, 2)
    ]


def test_bad_requests_are_clear_errors(tmp_path):
    bot = chatted()
    with pytest.raises(HistoryError, match="no kept turns"):
        write_test(tmp_path, bot, "console:nobody")
    with pytest.raises(TestWriteError, match="test_<something>.py"):
        write_test(tmp_path / "chat.py", bot, "console:1")
    with pytest.raises(HistoryError, match="no recorded turns"):
        replay([], bot)
