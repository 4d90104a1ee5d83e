"""turns_frame: one row per kept turn, from a bot, a store, a directory or a list (SPEC §7)."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

from bottender_nb import Bot, FileSessionStore, MemorySessionStore, Turn, turns_frame

T0 = 1_700_000_000.0
FIXED = ["session_id", "platform", "turn", "time", "kind", "text", "replies", "changed"]


async def profile(context):
    if context.event.text == "city":
        context.set_state(city="Paris", profile={"age": 36, "tags": ["a"]})
    else:
        context.set_state(name=context.event.text)
    await context.send_text("ok")


def make_bot(store=None, **options):
    return Bot(profile, initial_state={"name": None}, session_store=store or MemorySessionStore(),
               clock=lambda: T0, **options)


def test_one_row_per_turn_with_the_state_after_it(tmp_path):
    bot = make_bot(FileSessionStore(tmp_path))
    bot.say("Ada")
    bot.say("city")
    bot.say("Bob", user="2")
    bot.rewind("console:1", 0)
    for source in (bot, bot.session_store, tmp_path, str(tmp_path)):
        frame = turns_frame(source)
        assert list(frame.columns)[:8] == FIXED
        assert frame.attrs["errors"] == []
        one = frame[frame["session_id"] == "console:1"]
        assert one["turn"].tolist() == [0, 1, 2]
        assert one["kind"].tolist() == ["event", "event", "rewind"]
        assert one["text"].tolist()[:2] == ["Ada", "city"]
        assert one["replies"].tolist() == [["ok"], ["ok"], []]
        assert one["changed"].tolist() == [["name"], ["city", "profile"], ["city", "profile"]]
        assert one["state.name"].tolist() == ["Ada", "Ada", "Ada"]
        assert one["state.profile.age"].tolist()[1] == 36
        assert one["state.profile.tags"].tolist()[1] == ["a"]
        assert frame[frame["session_id"] == "console:2"]["state.name"].tolist() == ["Bob"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"][0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert frame["turn"].dtype == "int64" and set(frame["platform"]) == {"console"}


def test_a_list_of_turns_or_their_dicts():
    bot = make_bot()
    bot.say("Ada")
    turns = bot.history("console:1")
    assert turns_frame(turns)["state.name"].tolist() == ["Ada"]
    records = [turn.as_record() for turn in turns]
    assert turns_frame(json.loads(json.dumps(records)))["text"].tolist() == ["Ada"]
    empty = turns_frame([])
    assert list(empty.columns) == FIXED and len(empty) == 0


def test_bad_entries_are_reported_never_fatal():
    good = make_bot()
    good.say("Ada")
    record = good.history("console:1")[0].as_record()
    items = [
        record,
        {**record, "index": -1},
        {**record, "time": 1e300},  # no datetime column holds it
        {**record, "time": float("nan")},
        {**record, "kind": "dance"},
        {**record, "state": [1]},
        "not a turn",
        {**record, "index": 1, "time": T0 + 1},
    ]
    with pytest.warns(UserWarning, match="turns_frame skipped 6"):
        frame = turns_frame(items)
    assert frame["turn"].tolist() == [0, 1]
    errors = dict(frame.attrs["errors"])
    assert sorted(errors) == [f"item {n}" for n in range(1, 7)]
    assert "1e+300" in errors["item 2"] and "kind 'dance'" in errors["item 4"]
    assert "not a turn" in errors["item 6"]


def test_inside_a_running_event_loop():
    bot = make_bot()
    bot.say("Ada")

    async def in_a_cell():
        return turns_frame(bot)

    assert asyncio.run(in_a_cell())["state.name"].tolist() == ["Ada"]


def test_history_zero_and_a_wrong_source(tmp_path):
    bot = make_bot(history=0)
    bot.say("Ada")
    assert len(turns_frame(bot)) == 0
    with pytest.raises(FileNotFoundError, match="not a directory"):
        turns_frame(tmp_path / "missing")
    with pytest.raises(TypeError, match="turns_frame needs"):
        turns_frame({"a": 1})


def test_turn_objects_not_kept_still_make_rows():
    turn = Turn("console:1", "console", T0, text="hi", state={"n": 1}, index=3)
    assert turns_frame([turn])[["turn", "state.n"]].values.tolist() == [[3, 1]]


async def set_from_json(context):
    context.set_state(json.loads(context.event.text))


def test_states_shaped_differently_in_each_file_give_the_columns_of_all_turns(tmp_path):
    """A file store's histories are read file by file: the state columns are still those of
    all the turns at once, in the order their keys were first seen."""
    bot = Bot(set_from_json, session_store=FileSessionStore(tmp_path), clock=lambda: T0)
    bot.say('{"a": {"b": 1}, "z": 1}', user="1")
    bot.say('{"a": {"c": 2}}', user="2")
    bot.say('{"a": null}', user="3")
    turns = [turn for user in "123" for turn in bot.history(f"console:{user}")]
    for source in (tmp_path, turns):
        frame = turns_frame(source)
        assert [name for name in frame.columns if name.startswith("state.")] == [
            "state.a.b", "state.a.c", "state.z"]  # no all-empty "state.a" from file 3
        assert frame["session_id"].tolist() == ["console:1", "console:2", "console:3"]
        assert frame["state.a.c"].tolist()[1] == 2 and frame["state.a.c"].isna().tolist() == [
            True, False, True]
    bot.say('{"a": 3}', user="4")
    frame = turns_frame(tmp_path)
    assert [name for name in frame.columns if name.startswith("state.")] == [
        "state.a", "state.a.b", "state.a.c", "state.z"]  # "a" itself first, as in a state
    assert frame["state.a"].tolist()[3] == 3 and frame["state.a"].isna().tolist()[:3] == [
        True, True, True]
