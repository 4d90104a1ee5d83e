"""Transcripts are a view of the kept turns: one row per message, no record of their own."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from bottender_nb import (
    Bot, FileSessionStore, MemorySessionStore, sessions_frame, transcripts_frame,
)

T0 = 1_578_000_000
COLUMNS = ["time", "session_id", "platform", "direction", "text", "state"]


async def echo(context):
    if context.event.text == "quiet":
        return
    context.set_state({"count": context.state["count"] + 1})
    await context.send_text(f"You said {context.event.text or context.event.payload}")
    await context.send_text(f"Count: {context.state['count']}")


def make_bot(store):
    return Bot(echo, initial_state={"count": 0}, session_store=store, clock=lambda: T0)


def test_a_file_stores_transcript_is_read_from_its_history(tmp_path):
    store = FileSessionStore(tmp_path)
    bot = make_bot(store)
    bot.say("hi")
    bot.say("héllo 👋", platform="line", user="U1", group="G1")
    everything = ["hi", "You said hi", "Count: 1", "héllo 👋", "You said héllo 👋", "Count: 1"]
    for source in (bot, store, tmp_path, str(tmp_path)):
        frame = transcripts_frame(source)
        assert list(frame.columns) == COLUMNS
        assert sorted(frame["text"].tolist()) == sorted(everything)
    assert transcripts_frame(bot.history("console:1"))["text"].tolist() == everything[:3]
    frame = transcripts_frame(bot)
    mine = frame[frame["session_id"] == "console:1"]
    assert mine["direction"].tolist() == ["in", "out", "out"]
    assert mine["text"].tolist() == ["hi", "You said hi", "Count: 1"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"][0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert mine["state"].tolist()[0] == {"count": 1}
    line = frame[frame["session_id"] == "line:G1"]
    assert line["platform"].tolist() == ["line"] * 3 and line["text"].tolist()[0] == "héllo 👋"
    assert len(sessions_frame(tmp_path)) == 2  # the history is not read as a session
    assert not any(name.endswith(".jsonl") for name in os.listdir(tmp_path))  # no file apart


def test_messages_of_every_store_and_turns_without_replies():
    bot = make_bot(MemorySessionStore())
    bot.say("hi")
    bot.say("quiet")  # a turn without replies still shows what came in
    bot.say(payload="BUY")
    bot.rewind("console:1", 0)  # changes state; nobody said anything
    frame = transcripts_frame(bot)
    assert list(zip(frame["direction"], frame["text"])) == [
        ("in", "hi"), ("out", "You said hi"), ("out", "Count: 1"), ("in", "quiet"),
        ("in", "BUY"), ("out", "You said BUY"), ("out", "Count: 2"),
    ]
    assert frame["state"].tolist()[3] == {"count": 1}


def test_bad_turns_are_reported_and_skipped(tmp_path):
    bot = make_bot(FileSessionStore(tmp_path))
    bot.say("hi")
    with open(tmp_path / ".history" / "console:1.jsonl", "ab") as file:
        file.write(b'{"index":1,"keep":1000,"sess')
    with pytest.warns(UserWarning, match="skipped 1"):
        frame = transcripts_frame(tmp_path)
    assert len(frame) == 3
    assert frame.attrs["errors"][0][0].endswith("console:1.jsonl:2")


def test_an_empty_transcript_and_a_wrong_source(tmp_path):
    empty = transcripts_frame([])
    assert list(empty.columns) == COLUMNS and len(empty) == 0
    assert len(transcripts_frame(tmp_path)) == 0  # a directory without turns yet
    with pytest.raises(FileNotFoundError, match="not a directory"):
        transcripts_frame(tmp_path / "missing")
    with pytest.raises(TypeError, match="transcripts_frame needs"):
        transcripts_frame(42)
