"""Conversation history and time travel (SPEC §7) on the memory store: the runner's side."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bottender_nb import Bot, HistoryError, MemorySessionStore
from bottender_nb.errors import ConfigError
from bottender_nb.frozen import freeze
from bottender_nb.turns import changed_keys


async def count(context):
    number = context.state["count"] + 1
    context.set_state(count=number)
    await context.send_text(f"Count: {number}")


def counting_bot(**options) -> Bot:
    return Bot(count, initial_state={"count": 0}, **options)


def test_every_event_is_a_turn_with_state_before_and_after():
    bot = counting_bot()
    bot.say("Hi")
    bot.say("Again")
    turns = bot.history("console:1")
    assert [(t.index, t.kind, t.text, t.replies) for t in turns] == [
        (0, "event", "Hi", ["Count: 1"]),
        (1, "event", "Again", ["Count: 2"]),
    ]
    assert [(dict(t.state_before), dict(t.state), t.changed) for t in turns] == [
        ({"count": 0}, {"count": 1}, ["count"]),
        ({"count": 1}, {"count": 2}, ["count"]),
    ]
    assert turns[0].raw == {"message": {"text": "Hi"}} and turns[0].session_id == "console:1"



STATES = st.dictionaries(
    st.sampled_from("abcdef"),
    st.one_of(st.integers(0, 2), st.none(), st.lists(st.integers(0, 1), max_size=2)),
)


@given(STATES, STATES)
def test_a_turn_names_the_keys_added_changed_or_removed_in_order(before, after):
    expected = [key for key, value in after.items() if key not in before or before[key] != value]
    expected += [key for key in before if key not in after]
    assert changed_keys(freeze(before), freeze(after)) == expected

def test_rewind_continues_from_the_chosen_turn_and_keeps_what_came_before():
    bot = counting_bot()
    for _ in range(3):
        bot.say("Hi")
    rewind = bot.rewind("console:1", 0)
    assert (rewind.kind, rewind.index, dict(rewind.state)) == ("rewind", 3, {"count": 1})
    assert bot.say("Hi") == ["Count: 2"]
    assert [t.kind for t in bot.history("console:1")] == ["event"] * 3 + ["rewind", "event"]


def test_fork_copies_state_and_history_up_to_the_turn():
    bot = counting_bot()
    for _ in range(3):
        bot.say("Hi")
    new_id = bot.fork("console:1", 1, to="alt")
    assert new_id == "console:alt"
    assert [(t.index, t.kind, t.session_id) for t in bot.history(new_id)] == [
        (0, "event", "console:alt"), (1, "event", "console:alt"), (2, "fork", "console:alt"),
    ]
    assert bot.say("Hi", user="alt") == ["Count: 3"]
    assert bot.say("Hi") == ["Count: 4"]  # the original goes on untouched
    assert bot.fork("console:1", 0) == "console:1-fork1"
    with pytest.raises(HistoryError, match="already exists"):
        bot.fork("console:1", 1, to="console:alt")
    with pytest.raises(HistoryError, match="stays on its platform"):
        bot.fork("console:1", 1, to="line:U1")


def test_a_turn_that_is_not_kept_is_a_clear_error():
    bot = counting_bot()
    with pytest.raises(HistoryError, match="no kept turns"):
        bot.rewind("console:1", 0)
    bot.say("Hi")
    with pytest.raises(HistoryError, match="keeps turns 0 to 0"):
        bot.rewind("console:1", 5)


def test_history_is_bounded_and_indexes_are_never_reused():
    bot = counting_bot(history=3)
    for _ in range(5):
        bot.say("Hi")
    assert [t.index for t in bot.history("console:1")] == [2, 3, 4]
    assert [t.index for t in counting_bot(history=0).history("console:1")] == []


def test_history_zero_keeps_nothing_and_a_bad_size_is_refused():
    bot = counting_bot(history=0)
    bot.say("Hi")
    assert bot.history("console:1") == []
    with pytest.raises(ConfigError, match="history"):
        counting_bot(history=-1)


def test_destroy_removes_the_history_and_reset_is_a_turn():
    store = MemorySessionStore()
    bot = counting_bot(session_store=store)
    bot.say("Hi")
    asyncio.run(bot.reset_session("console:1"))
    assert [t.kind for t in bot.history("console:1")] == ["event", "reset"]
    asyncio.run(store.destroy("console:1"))
    assert bot.history("console:1") == []


def test_a_store_without_history_handles_events_but_has_no_turns_to_travel():
    from bottender_nb import StoreError

    store = MemorySessionStore()
    store.history = None  # as a store of the user's own that keeps no turns
    bot = counting_bot(session_store=store)
    assert bot.say("Hi") == ["Count: 1"]
    with pytest.raises(StoreError, match="keeps no conversation history"):
        bot.history("console:1")
    with pytest.raises(StoreError, match="keeps no conversation history"):
        bot.rewind("console:1", 0)
