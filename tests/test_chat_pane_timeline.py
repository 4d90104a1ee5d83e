"""The chat pane's timeline, headless: pick a turn, see its state, rewind or fork from it."""

from __future__ import annotations

import pytest

from bottender_nb import Bot, ChatPane
from bottender_nb.errors import HistoryError
from bottender_nb.pane.state_view import CHANGED_CLASS

IMAGE = '<img src=x onerror="window.__pwned=2">'


async def counter(context):
    count = context.state["count"] + 1
    context.set_state(count=count)
    await context.send_text(f"Count: {count}")


async def form(context):
    """Asks a name, then a city; a text that is not the answer it waits for is kept anyway."""
    if "name" not in context.state:
        context.set_state(name=context.event.text)
        await context.send_text(f"Hi {context.event.text}! Which city?")
    else:
        context.set_state(city=context.event.text)
        await context.send_text(f"{context.state['name']} from {context.event.text}.")


@pytest.fixture
def pane() -> ChatPane:
    pane = ChatPane(Bot(counter, initial_state={"count": 0, "name": "Ada"}))
    yield pane
    pane.close()


def test_each_turn_adds_one_row(pane):
    assert pane.timeline.labels == []
    pane.send("Hi")
    pane.send(IMAGE)
    assert pane.timeline.labels == [
        "0  Hi → Count: 1  · count",
        f"1  {IMAGE[:35]}… → Count: 2  · count",
    ]


def test_picking_a_turn_shows_its_state_with_its_changes_marked():
    pane = ChatPane(Bot(form))
    pane.send("Ada")
    pane.send("Pariss")
    assert pane.state_view.values == {"name": "Ada", "city": "Pariss"}
    pane.timeline.select(0)
    assert pane.state_view.values == {"name": "Ada"}
    assert pane.state_view.changed == {"name"}
    assert CHANGED_CLASS in pane.state_view.rows["name"]._dom_classes
    assert "after turn 0" in pane.state_view.title.value
    assert "Turn 0" in pane.timeline.detail.value and "changed name" in pane.timeline.detail.value
    assert not pane.timeline.rewind_button.disabled and not pane.timeline.fork_button.disabled
    pane.timeline.select(None)
    assert pane.timeline.rewind_button.disabled and "Session state" in pane.state_view.title.value


def test_clicking_a_row_is_picking_it(pane):
    for _ in range(30):  # three blocks of rows
        pane.send("Hi")
    first, _, third = pane.timeline.rows.blocks
    first.value = 3  # what the browser sends when row 3 is clicked
    assert pane.state_view.values["count"] == 4
    third.value = 27
    assert first.value is None  # one row picked in the whole list
    assert pane.timeline.chosen.index == 27 and pane.state_view.values["count"] == 28


def test_rewind_here_continues_from_the_picked_turn(pane):
    for _ in range(3):
        pane.send("Hi")
    pane.timeline.select(1)
    pane.timeline.rewind_button.click()
    assert pane.transcript[-1] == (
        "Note", "Rewound console:1 to turn 1 (kept as turn 3): the next message continues from there."
    )
    assert pane.state_view.values["count"] == 2 and "Session state" in pane.state_view.title.value
    assert pane.timeline.labels[-1] == "3  ⟲ rewind to 1  · count"
    assert pane.send("Hi") == ["Count: 3"]
    assert pane.timeline.rewind_button.disabled  # back to the live state


def test_fork_here_switches_the_pane_to_the_new_session(pane):
    pane.send("Hi")
    pane.send("Hi")
    pane.timeline.select(0)
    assert pane.timeline.fork_here() == "console:1-fork1"
    assert pane.session_id == "console:1-fork1"
    assert pane.transcript[-1] == ("Note", "Forked console:1 at turn 0 into console:1-fork1: this "
                                           "pane now talks to the fork. To go back, pick user 1 above.")
    assert pane.timeline.labels == ["0  Hi → Count: 1  · count", "1  fork of console:1 at 0"]
    assert pane.send("Hi") == ["Count: 2"]
    pane.switch("1")
    assert pane.state_view.values["count"] == 2 and len(pane.timeline.labels) == 2
    assert pane.send("Hi") == ["Count: 3"]


def test_fork_of_a_line_group_stays_a_group():
    pane = ChatPane(Bot(counter, initial_state={"count": 0}), platform="line", user="U1")
    pane.switch(group="G1")
    pane.send("Hi")
    pane.timeline.select(0)
    pane.timeline.fork_here(to="G2")
    assert pane.session_id == "line:G2" and pane.source.group == "G2" and pane.source.user == "U1"
    assert pane.transcript[-1][1].endswith("pick user U1 in group G1 above.")


def test_a_fork_onto_an_existing_session_shows_an_error(pane):
    pane.send("Hi")
    pane.bot.say("Hi", user="2")
    pane.timeline.select(0)
    assert pane.timeline.fork_here(to="2") is None
    assert pane.transcript[-1] == (
        "Error", "HistoryError: 'console:2' already exists; fork to another id or destroy it first."
    )
    assert pane.session_id == "console:1"


def test_the_timeline_follows_the_session_shown():
    pane = ChatPane(Bot(counter, initial_state={"count": 0}))
    pane.send("Hi")
    pane.bot.say("Hi", user="2")  # another session: not in this timeline
    assert len(pane.timeline.labels) == 1
    pane.bot.say("Hi")  # this session, from elsewhere (e.g. %say): shown
    assert len(pane.timeline.labels) == 2
    pane.switch("2")
    assert pane.timeline.labels == ["0  Hi → Count: 1  · count"]
    with pytest.raises(HistoryError, match="it shows turns 0 to 0"):
        pane.timeline.select(5)


def test_a_reopened_pane_shows_the_kept_turns(pane):
    pane.send("Hi")
    pane.send("/reset")
    again = ChatPane(pane.bot)
    assert again.timeline.labels == ["0  Hi → Count: 1  · count", "1  /reset  · count"]
    for _ in range(23):
        pane.send("Hi")
    again = ChatPane(pane.bot)
    assert again.timeline.labels == pane.timeline.labels and len(again.timeline.labels) == 25
    assert [len(block.options) for block in again.timeline.rows.blocks] == [10, 10, 5]
    again.send("Hi")  # the next turn goes on the last block
    assert [len(block.options) for block in again.timeline.rows.blocks] == [10, 10, 6]


def test_rows_of_turns_no_longer_kept_are_dropped():
    pane = ChatPane(Bot(counter, initial_state={"count": 0}, history=30))
    for _ in range(80):
        pane.send("Hi")
    assert sorted(pane.timeline.rows.turns) == list(range(50, 80))  # turns 50 to 79 are kept
    assert len(pane.timeline.rows.blocks) == 3 and pane.timeline.labels[0].startswith("50  ")
    for _ in range(150):  # past the first section's 200 turns: the section goes too
        pane.send("Hi")
    assert sorted(pane.timeline.rows.turns) == list(range(200, 230))
    assert [len(section.children) for section in pane.timeline.rows.sections] == [3]


def test_a_long_chat_keeps_no_widgets_for_dropped_rows():
    """Past the history's length the timeline reuses the blocks and sections it drops: the
    widgets open in the kernel grow with the transcript's new blocks only."""
    pane = ChatPane(Bot(counter, initial_state={"count": 0}, history=250))  # 25 blocks
    for _ in range(450):  # turns 0 to 449: the first section of rows (0 to 199) is dropped
        pane.send("Hi")
    sections = pane.transcript_view.widget.children[0]  # the transcript's VBox of sections
    before = len(_open_widgets()), len(pane.transcript_view.blocks), len(sections.children)
    for _ in range(200):  # a new section of rows at turn 600; the second one goes at 649
        pane.send("Hi")
    assert [len(section.children) for section in pane.timeline.rows.sections] == [20, 5]
    made = (len(pane.transcript_view.blocks) - before[1]) + (len(sections.children) - before[2])
    assert len(_open_widgets()) - before[0] == made
    last = pane.timeline.rows.blocks[-1]  # a reused block: its rows are the new turns'
    assert [index for _, index in last.options] == list(range(640, 650))
    last.value = 645  # a click on its row
    assert pane.timeline.chosen.index == 645 and pane.state_view.values["count"] == 646
    pane.close()


def _open_widgets() -> dict[str, object]:
    from ipywidgets.widgets.widget import _instances  # the kernel's open widgets, by model id

    return _instances


def test_appending_a_turn_re_sends_only_the_last_block(pane):
    for _ in range(40):
        pane.send("Hi")
    first = pane.timeline.rows.blocks[0]
    updates = []
    first.observe(updates.append, names="options")
    for _ in range(40):
        pane.send("Hi")
    assert updates == []
    assert all(len(block.options) <= 10 for block in pane.timeline.rows.blocks)
    for _ in range(200):
        pane.send("Hi")
    assert [len(section.children) for section in pane.timeline.rows.sections] == [20, 8]


def test_a_bot_without_history_has_an_empty_timeline():
    pane = ChatPane(Bot(counter, initial_state={"count": 0}, history=0))
    pane.send("Hi")
    assert pane.timeline.labels == [] and "keeps no turns" in pane.timeline.detail.value
    with pytest.raises(HistoryError, match="Pick a turn"):
        pane.timeline.rewind_here()


def test_text_in_the_detail_line_is_escaped(pane):
    pane.send(IMAGE)
    pane.timeline.select(0)
    assert "<img" not in pane.timeline.detail.value and "&lt;img" in pane.timeline.detail.value


def test_a_store_without_history_still_chats():
    bot = Bot(counter, initial_state={"count": 0})
    bot.session_store.history = None  # a store of one's own that keeps no turns
    pane = ChatPane(bot)
    assert pane.send("Hi") == ["Count: 1"]
    assert pane.timeline.labels == [] and "MemorySessionStore keeps no turns" in pane.timeline.detail.value
