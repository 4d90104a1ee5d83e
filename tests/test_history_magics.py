"""%turns, %rewind and %fork in a real kernel (one notebook run with nbclient, outputs asserted)."""

from __future__ import annotations

import ast

import pytest

from kernels import execute, stream

COUNTER = (
    "%%action\n"
    'count = context.state["count"] + 1\n'
    "context.set_state(count=count)\n"
    'await context.send_text(f"Count: {count}")\n'
)

# One notebook, run once; each test reads the outputs of its cells by name.
CELLS = {
    "load": "%load_ext bottender_nb",
    "no_action": "%turns",
    "config": '%%bottender_config\n{"initialState": {"count": 0}}',
    "action": COUNTER,
    "nothing_yet": "%turns",
    "three": "%say Hi\n%say Hi\n%say <b>Hi</b>",
    "turns": "%turns",
    "analytics_on_bot": (  # the README's turns_frame(bot), in a notebook built with the magics
        "from bottender_nb import funnel, turns_frame\n"
        "print(funnel(turns_frame(bot), [('one', {'count': 1}), ('three', {'count': 3})]).to_string())"
    ),
    "funnel_of_turns_table": "t = %turns\nfunnel(t, [('one', {'count': 1})])",
    "rewind": "%rewind 1",
    "after_rewind": "%say Hi",
    "turns_after_rewind": (
        "frame = %turns\nprint(frame.reset_index()[['turn', 'kind', 'you', 'bot', 'changed']]"
        ".values.tolist())"
    ),
    "fork": "%fork 2 --to b",
    "talk_to_fork": "%say Hi --user b",
    "turns_of_fork": "fork_frame = %turns console:b\nprint(fork_frame.to_string())",
    "fork_named_default": "%fork 0 console:1",
    "original_kept": "%state console:1",
    "rewind_other_session": "%rewind 0 console:b",
    "not_a_number": "%rewind abc",
    "not_kept": "%rewind 99 console:1",
    "unknown_session": "%turns console:9",
    "rewind_unknown": "%rewind 0 console:9",
    "fork_exists": "%fork 1 console:1 --to b",
    "fork_other_platform": "%fork 1 console:1 --to line:U1",
    "no_turn": "%fork",
    "help": "%fork --help",
    "ipython_history_untouched": "%history 1",
    "chat": "%chat",
    "fork_in_pane": (  # the button's click runs on the kernel's loop, as a browser's does
        "pane = get_ipython().find_magic('chat').__self__.kit.panes[-1]\n"
        "pane.timeline.select(1)\n"
        "pane.timeline.fork_button.click()"
    ),
    "after_fork_in_pane": "print(pane.session_id)\nprint(pane.timeline.labels[-1])\nprint(pane.transcript[-1][1])",
    "own_bot": "bot = 'mine'",
    "action_again": COUNTER,
    "own_bot_kept": "print(bot)",
    "unload": "%unload_ext bottender_nb",
    "after_unload": "%turns",
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    workdir = tmp_path_factory.mktemp("history-magics")
    return dict(zip(CELLS, execute(list(CELLS.values()), workdir)))


def result(outputs: list[dict]) -> dict:
    (output,) = [item for item in outputs if item["output_type"] == "execute_result"]
    return output["data"]


def test_turns_shows_a_table_of_the_last_sessions_turns(outputs):
    data = result(outputs["turns"])
    table = data["text/html"]
    assert table.count("<tr>") == 1 + 3  # the header and three turns
    for cell in ("<th>turn</th>", "<th>time</th>", "<th>kind</th>", "<th>you</th>",
                 "<th>bot</th>", "<th>changed</th>", "<td>Count: 3</td>", "<td>count</td>"):
        assert cell in table, cell
    assert "+00:00" in data["text/plain"]  # times are UTC


def test_text_in_the_table_is_escaped(outputs):
    table = result(outputs["turns"])["text/html"]
    assert "<b>Hi</b>" not in table and "&lt;b&gt;Hi&lt;/b&gt;" in table


def test_the_notebooks_bot_is_bot_and_turns_says_it_is_no_turns_frame(outputs):
    shown = stream(outputs["analytics_on_bot"])
    assert "one" in shown and "three" in shown and "1.0" in shown, outputs["analytics_on_bot"]
    error = next(o for o in outputs["funnel_of_turns_table"] if o["output_type"] == "error")
    assert error["ename"] == "AnalyticsError", error
    assert "This is %turns' table for reading" in error["evalue"]
    assert "turns_frame(bot)" in error["evalue"]
    assert stream(outputs["own_bot_kept"]).strip() == "mine"  # the user's own `bot` stays theirs


def test_rewind_says_what_happened_and_the_next_message_continues_from_there(outputs):
    assert stream(outputs["rewind"]) == (
        'Rewound console:1 to turn 1 (kept as turn 3); state: {"count": 2}\n'
    )
    assert stream(outputs["after_rewind"]) == "You > Hi\nBot > Count: 3\n"
    # the frame's content, row by row (not pandas' padding of it)
    assert ast.literal_eval(stream(outputs["turns_after_rewind"])) == [
        [0, "event", "Hi", "Count: 1", "count"],
        [1, "event", "Hi", "Count: 2", "count"],
        [2, "event", "<b>Hi</b>", "Count: 3", "count"],
        [3, "rewind", "⟲ rewind to 1", "", "count"],
        [4, "event", "Hi", "Count: 3", "count"],
    ]


def test_fork_names_the_new_session_and_how_to_talk_to_it(outputs):
    assert stream(outputs["fork"]) == (
        "Forked console:1 at turn 2 into console:b; talk to it with %say TEXT --user b\n"
    )
    assert stream(outputs["talk_to_fork"]) == "You > Hi\nBot > Count: 4\n"
    fork_table = stream(outputs["turns_of_fork"])
    assert "fork of console:1 at 2" in fork_table and "Count: 4" in fork_table
    assert "rewind" not in fork_table  # only the turns up to 2 were copied
    assert stream(outputs["fork_named_default"]) == (
        "Forked console:1 at turn 0 into console:1-fork1; talk to it with %say TEXT --user 1-fork1\n"
    )
    assert stream(outputs["original_kept"]) == '{\n  "count": 3\n}\n'
    assert stream(outputs["rewind_other_session"]).startswith(
        'Rewound console:b to turn 0 (kept as turn 5); state: {"count": 1}'
    )


@pytest.mark.parametrize("cell, message", [
    ("no_action", "define one with %%action"),
    ("nothing_yet", "'console:1' has no kept turns; talk to it first"),
    ("not_a_number", "TURN must be a turn number such as 2 (the turn column of %turns), not 'abc'."),
    ("not_kept", "Turn 99 is not kept for 'console:1': its history keeps turns 0 to 4"),
    ("unknown_session", "'console:9' has no kept turns"),
    ("rewind_unknown", "'console:9' has no kept turns"),
    ("fork_exists", "'console:b' already exists; fork to another id or destroy it first."),
    ("fork_other_platform", "not a console session id"),
    ("no_turn", "the following arguments are required: turn"),
])
def test_misuse_is_one_usage_line(outputs, cell, message):
    (output,) = outputs[cell]
    assert output["output_type"] == "stream" and output["name"] == "stderr", output
    assert output["text"].startswith("UsageError: ") and message in output["text"], output["text"]
    assert output["text"].count("\n") == 1


def test_help_and_ipythons_own_history(outputs):
    assert "--to" in stream(outputs["help"]) and "TURN" in stream(outputs["help"]).upper()
    assert stream(outputs["ipython_history_untouched"]) == "%load_ext bottender_nb\n"  # cell 1


def test_the_panes_fork_button_works_in_a_kernel(outputs):
    assert stream(outputs["fork_in_pane"]) == ""
    assert stream(outputs["after_fork_in_pane"]) == (
        "console:1-fork2\n"  # console:1-fork1 was taken by %fork above
        "2  fork of console:1 at 1\n"
        "Forked console:1 at turn 1 into console:1-fork2: this pane now talks to the fork. "
        "To go back, pick user 1 above.\n"
    )


def test_unloading_removes_the_time_travel_magics(outputs):
    assert "%turns` not found" in stream(outputs["after_unload"], "stderr")
