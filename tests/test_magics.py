"""The magics in a real kernel (notebooks built here, run with nbclient, outputs asserted),
and the plain functions they call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bottender_nb import Bot, ConfigError
from bottender_nb.errors import CellError
from bottender_nb.magics.arguments import split_text_and_options
from bottender_nb.magics.cells import define_action, parse_config
from bottender_nb.magics.notebook_bot import NotebookBot
from bottender_nb.platforms import Source
from kernels import execute, stream

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
COUNTER = (
    "%%action\n"
    'count = context.state["count"] + 1\n'
    "context.set_state(count=count)\n"
    'await context.send_text(f"Count: {count}")\n'
)
KIT = "kit = get_ipython().find_magic('chat').__self__.kit"

# One notebook, run once; each test reads the outputs of its cells by name.
CELLS = {
    "load": "%load_ext bottender_nb",
    "no_action": "%say Hi",
    "config": '%%bottender_config\n{"initialState": {"count": 0}}',
    "action": COUNTER,
    "state_before": "%state",
    "say": "%say Hi\n%say Hi",
    "state": "%state",
    "state_other": "%state console:9",
    "chat": "%chat",
    "type_in_pane": (
        f"{KIT}\npane = kit.panes[-1]\n"  # what the browser sends on Enter: the text with it
        "pane.text._handle_custom_msg({'event': 'submit', 'text': 'Hi'}, [])"
    ),
    "read_pane": "print(pane.transcript[-1], pane.state_view.values, pane.state_view.changed)",
    "line_chats": (
        "%say Hi --platform line --group G1 --user U1\n"
        "%say Hi --platform line --group G1 --user U2\n"
        "%say Hi --platform line --user U1\n"
        "%state\n"
        "%state line:G1"
    ),
    "sessions": "frame = %sessions\nprint(sorted(frame['id']))",
    "redefine": "%%action\nasync def App(context):\n    await context.send_text('v2: ' + context.event.text)",
    "pane_after_redefine": "print(pane.send('Hi'))",
    "printing_action": "%%action\nprint('inside the action')\nawait context.send_text('done')",
    "say_to_printing": "%say Hi",
    "no_await": "%%action NoAwait\ncontext.send_text('lost?')",
    "say_to_no_await": "%say Hi",
    "bad_option": "%say Hi --bogus 1",
    "group_on_console": "%say Hi --group G",
    "chat_group_on_console": "%chat --group g1",
    "group_and_room": "%say Hi --platform line --group G --room R",
    "room_on_slack": "%chat --platform slack --room R",
    "payload_and_text": "%say Hi --payload X",
    "empty_user": '%say Hi --user ""',
    "sessions_missing": "%sessions no-such-dir",
    "sessions_root_missing": "%sessions /nonexistent",
    "sessions_options_alone": "%sessions --url redis://127.0.0.1:1",
    "sessions_dir_with_redis": "%sessions somewhere --driver redis",
    "bad_platform": "%chat --platform nope",
    "bad_config": "%%bottender_config\n{'session': {'driver': 'file'",
    "bare_word_config": '%%bottender_config\n{"initialState": {count: 0}}',
    "bad_driver": '%%bottender_config\n{"session": {"driver": "sqlite"}}',
    "help": "%chat --help",
    "broken_action": "%%action Broken\nx = 1\nraise ValueError('boom in the action')",
    "say_to_broken": "%say Hi",
    "syntax_error": "%%action\nawait context.send_text(",
    "import_error": "%%action\nimport no_such_module_xyz\n\nasync def App(context):\n    pass",
    "after_errors": "print('still running')",
    "unload": "%unload_ext bottender_nb",
    "after_unload": "%say Hi",
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    workdir = tmp_path_factory.mktemp("magics")
    return dict(zip(CELLS, execute(list(CELLS.values()), workdir)))


def test_say_prints_the_transcript(outputs):
    assert stream(outputs["say"]) == "You > Hi\nBot > Count: 1\nYou > Hi\nBot > Count: 2\n"


def test_an_actions_own_prints_come_between_the_message_and_the_replies(outputs):
    assert stream(outputs["say_to_printing"]) == "You > Hi\ninside the action\nBot > done\n"


def test_state_prints_indented_json(outputs):
    text = stream(outputs["state"])
    assert json.loads(text) == {"count": 2}
    assert text == '{\n  "count": 2\n}\n'
    assert json.loads(stream(outputs["state_before"])) == {"count": 0}  # what the first event sees
    shown = [o["data"]["text/plain"] for o in outputs["state"] if o["output_type"] == "display_data"]
    assert shown == ["State of console:1 (the last session talked to):"]


def test_a_line_group_shares_a_session_and_state_follows_the_last_one(outputs):
    assert stream(outputs["line_chats"]) == (
        "You > Hi\nBot > Count: 1\n"  # U1 in group G1
        "You > Hi\nBot > Count: 2\n"  # U2 in the same group: the group's session
        "You > Hi\nBot > Count: 1\n"  # U1 in a private chat: a session of its own
        '{\n  "count": 1\n}\n'          # %state: the last session talked to, line:U1
        '{\n  "count": 2\n}\n'          # %state line:G1
    )


def test_sessions_reads_the_notebook_bots_store_by_default(outputs):
    assert stream(outputs["sessions"]) == "['console:1', 'line:G1', 'line:U1']\n"


def test_chat_shows_a_widget_view_and_its_saved_copy_and_nothing_else(outputs):
    live, copy = outputs["chat"]
    assert live["output_type"] == copy["output_type"] == "display_data"
    assert WIDGET_VIEW in live["data"]
    assert set(copy["data"]) == {"text/html", "text/plain"}  # for pages without widgets


def test_typing_in_the_pane_is_handled_on_the_kernel_loop(outputs):
    assert stream(outputs["read_pane"]) == "('Bot', 'Count: 3') {'count': 3} {'count'}\n"


def test_a_redefined_action_reaches_the_open_pane(outputs):
    assert stream(outputs["pane_after_redefine"]) == "['v2: Hi']\n"


@pytest.mark.parametrize("cell, message", [
    ("no_action", "define one with %%action"),
    ("bad_option", "unrecognized arguments: --bogus"),
    ("bad_platform", "invalid choice: 'nope'"),
    ("bad_config", "neither JSON nor a Python dict literal"),
    ("bare_word_config", 'the bare word count, line 1: quote it, "count"'),
    ("bad_driver", "Unknown session driver 'sqlite'"),
    ("state_other", "No session 'console:9' is stored"),
    ("group_on_console", "The console platform has no groups, so --group 'G' cannot be used"),
    ("chat_group_on_console", "The console platform has no groups, so --group 'g1'"),
    ("group_and_room", "--group 'G' and --room 'R' were both given"),
    ("room_on_slack", "The slack platform has no rooms, so --room 'R' cannot be used; use --group"),
    ("payload_and_text", "Give TEXT or --payload, not both"),
    ("empty_user", "--user needs an id, not ''; e.g. --user 2."),
    ("sessions_missing", "No directory 'no-such-dir'"),
    ("sessions_root_missing", "No directory '/nonexistent'"),
    ("sessions_options_alone", "--url needs --driver redis or --driver mongo"),
    ("sessions_dir_with_redis", "A directory ('somewhere') goes with --driver file"),
    ("syntax_error", "SyntaxError in this %%action cell, line 1: '(' was never closed"),
])
def test_errors_are_one_usage_line_not_a_traceback(outputs, cell, message):
    assert {(output["output_type"], output.get("name")) for output in outputs[cell]} == {
        ("stream", "stderr")}  # nothing else: no "You > ", no traceback
    text = stream(outputs[cell], "stderr")  # one line, however the kernel flushed it
    assert text.startswith("UsageError: ") and message in text and "<ast." not in text
    assert text.count("\n") == 1
    assert stream(outputs["after_errors"]) == "still running\n"


def test_a_send_not_awaited_says_to_add_await_in_one_line(outputs):
    """The most common slip in async Python: the reply must not be lost in silence."""
    said = outputs["say_to_no_await"]
    assert stream(said) == "You > Hi\n"  # no "Bot > lost?": it was never sent
    error = stream(said, "stderr")
    assert error.count("\n") == 1 and "was never awaited" not in error.split(":", 1)[0]
    assert "context.send_text('lost?') was never awaited" in error
    assert "write `await context.send_text(...)`" in error
    assert "RuntimeWarning" not in error and "Traceback" not in error


def test_an_action_error_shows_the_action_cell_first_with_its_number_and_line(outputs):
    said, error = outputs["say_to_broken"]
    assert said["output_type"] == "stream" and said["text"] == "You > Hi\n"
    assert (error["output_type"], error["ename"], error["evalue"]) == (
        "error", "ValueError", "boom in the action"
    )
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))  # no colours
    action_cell = list(CELLS).index("broken_action") + 1  # In[n]: cells run once, in order
    frames = [line for line in traceback.splitlines() if line.startswith(("Cell In[", "File "))]
    assert frames == [f"Cell In[{action_cell}], line 2, in Broken(context, props)"]
    assert "----> 2 raise ValueError('boom in the action')" in traceback
    assert "get_ipython().run_line_magic" not in traceback and "magics.py" not in traceback


def test_an_error_while_defining_an_action_shows_the_cell_first(outputs):
    (error,) = outputs["import_error"]
    assert error["ename"] == "ModuleNotFoundError"
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    action_cell = list(CELLS).index("import_error") + 1
    frames = [line for line in traceback.splitlines() if line.startswith(("Cell In[", "File "))]
    assert frames == [f"Cell In[{action_cell}], line 1"]


def test_unloading_removes_the_magics(outputs):
    assert "%say` not found" in stream(outputs["after_unload"], "stderr")


def test_help_explains_the_options(outputs):
    text = stream(outputs["help"])
    assert "%chat" in text and "--platform" in text and "--group" in text


def test_config_picks_the_store_and_both_action_forms_work(tmp_path: Path):
    cells = [
        "%load_ext bottender_nb",
        "%%bottender_config\n"
        "{'initialState': {'count': 0}, 'session': {'driver': 'file', 'expiresIn': None,\n"
        " 'stores': {'file': {'dirname': 'my_sessions'}}}}",
        COUNTER,
        "%say Hi",
        "greeting = 'Hello'",
        "%%action Greeter\nawait context.send_text(f'{greeting}, {context.event.text}!')",
        "%say Ada",
        "%%action\nimport string\n\nasync def Echo(context):\n    await context.send_text(context.event.text)",
        "%say <b>as typed</b>  --user 2",
        "print(Greeter.__name__, Echo.__name__)",
        "df = %sessions my_sessions\nprint(sorted(df['id']), sorted(df['state.count']))",
    ]
    ran = execute(cells, tmp_path)
    config, say, greeter, echo, names, frame = (ran[index] for index in (1, 3, 6, 8, 9, 10))
    assert stream(config).startswith("Session store: FileSessionStore (my_sessions)")
    assert stream(say) == "You > Hi\nBot > Count: 1\n"
    stored = json.loads((tmp_path / "my_sessions" / "console:1.json").read_text())
    assert stored["_state"] == {"count": 1}
    assert (tmp_path / "my_sessions" / ".history" / "console:1.jsonl").is_file()  # every turn kept
    assert stream(greeter) == "You > Ada\nBot > Hello, Ada!\n"
    assert stream(echo) == "You > <b>as typed</b>\nBot > <b>as typed</b>\n"
    assert stream(names) == "Greeter Echo\n"
    assert stream(frame) == "['console:1', 'console:2'] [0, 1]\n"


def test_sessions_from_another_store_closes_what_it_opened(tmp_path: Path, redis_server):
    url = redis_server.url.rsplit("/", 1)[0] + "/9"  # a database of its own: other tests' keys
    cells = [
        "%load_ext bottender_nb",
        "import redis\n"
        f"redis.Redis.from_url({url!r}).flushdb()\n"
        f"redis.Redis.from_url({url!r}).set('sessions:console:7', "
        "'{\"id\": \"console:7\", \"platform\": \"console\", \"_state\": {\"n\": 7}}', ex=600)",
        *[f"frame = %sessions --driver redis --url {url}\nprint(list(frame['id']))"] * 3,
        # what is still connected to database 9 while the kernel runs: only this cell's client
        f"print(sum(c['db'] == '9' for c in redis.Redis.from_url({url!r}).client_list()))",
    ]
    ran = execute(cells, tmp_path)
    assert [stream(output) for output in ran[2:5]] == ["['console:7']\n"] * 3
    assert stream(ran[5]) == "1\n"


# -- the plain functions behind the magics ---------------------------------------------------


@pytest.mark.parametrize("cell", [
    '{"initialState": {"count": 0}, "session": {"driver": "memory", "expiresIn": null}}',
    "{'initialState': {'count': 0}, 'session': {'driver': 'memory', 'expiresIn': None}}",
])
def test_a_config_cell_is_json_or_a_python_dict(cell):
    assert parse_config(cell) == {"initialState": {"count": 0},
                                  "session": {"driver": "memory", "expiresIn": None}}


@pytest.mark.parametrize("cell, message", [
    ("", "empty"), ("[1, 2]", "must be an object"), ("{'a': f(1)}", "neither JSON nor"),
])
def test_a_bad_config_cell_says_what_to_write(cell, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(cell)


@pytest.mark.parametrize("cell, name, defined", [
    ("await context.send_text('hi')", None, "App"),
    ("await context.send_text('hi')", "Greeter", "Greeter"),
    ("async def App(context):\n    await context.send_text('hi')", None, "App"),
    ("import os\n\nasync def Hello(context):\n    await context.send_text('hi')", None, "Hello"),
    ("async def Hello(context):\n    await context.send_text('hi')", "Hello", "Hello"),
])
def test_both_action_cell_forms(cell, name, defined):
    namespace: dict = {}
    action = define_action(cell, name, namespace, filename="<cell>")
    assert namespace[defined] is action and action.__name__ == defined
    assert Bot(action).say("Hi") == ["hi"]


def test_an_action_body_sees_the_notebooks_variables_and_props():
    namespace = {"greeting": "Hello"}
    action = define_action("await context.send_text(f'{greeting} {props}')", None, namespace,
                           filename="<cell>")
    assert Bot(action).say("Hi") == ["Hello {}"]


def test_an_action_name_must_be_an_identifier():
    with pytest.raises(CellError, match="identifier"):
        define_action("pass", "not a name", {}, filename="<cell>")


def test_reconfiguring_reaches_open_panes(tmp_path):
    kit = NotebookBot()
    kit.set_action(define_action(
        "context.set_state(count=context.state.get('count', 0) + 1)\n"
        "await context.send_text(f\"Count: {context.state['count']}\")",
        None, {}, filename="<cell>",
    ))
    pane = kit.open_chat(platform="console", source=Source())
    assert pane.send("Hi") == ["Count: 1"]
    summary = kit.configure({
        "initialState": {"count": 10},
        "session": {"driver": "file", "stores": {"file": {"dirname": str(tmp_path)}}},
    })
    assert "FileSessionStore" in summary
    assert pane.bot is kit.bot and kit.panes == [pane]
    assert pane.send("Hi") == ["Count: 11"]
    assert (tmp_path / "console:1.json").is_file()


@pytest.mark.parametrize("line, text, argv", [
    ("I'm  \"here\" --user 2", "I'm  \"here\"", ["--user", "2"]),
    ("--payload 'A B' --platform line", "", ["--payload", "A B", "--platform", "line"]),
    ("Hi --user=3 there -h", "Hi there", ["--user=3", "-h"]),
    ("x -1 <img src=x onerror=\"a=1\">", "x -1 <img src=x onerror=\"a=1\">", []),
    ("Hi --bogus", "Hi", ["--bogus"]),
])
def test_say_keeps_its_text_as_typed(line, text, argv):
    valued = {"--user", "--platform", "--payload"}
    assert split_text_and_options(line, valued=valued, flags={"-h", "--help"}) == (text, argv)
