"""Issue 5: every turn recorded next to the sessions, and read back as a DataFrame."""

from __future__ import annotations

import json
import multiprocessing

import pandas as pd
import pytest

from bottender_nb import (
    Bot, FileSessionStore, MemorySessionStore, TranscriptRecorder, sessions_frame, transcripts_frame,
)
from bottender_nb.session.runner import Turn

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


def test_a_file_store_records_into_transcripts_jsonl(tmp_path):
    store = FileSessionStore(tmp_path)
    bot = make_bot(store)
    recorder = TranscriptRecorder.for_store(store).attach(bot)
    assert recorder.path == tmp_path / "transcripts.jsonl"
    bot.say("hi")
    bot.say("héllo 👋", platform="line", user="U1", group="G1")
    lines = (tmp_path / "transcripts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["direction"] for line in lines] == ["in", "out", "out"] * 2
    assert json.loads(lines[3]) == {
        "time": T0, "session_id": "line:G1", "platform": "line", "direction": "in",
        "text": "héllo 👋", "state": {"count": 1},
    }
    for source in (recorder, tmp_path, tmp_path / "transcripts.jsonl", str(tmp_path)):
        frame = transcripts_frame(source)
        assert list(frame.columns) == COLUMNS
        assert frame["text"].tolist() == [
            "hi", "You said hi", "Count: 1", "héllo 👋", "You said héllo 👋", "Count: 1"
        ]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"][0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert frame["session_id"].tolist()[:3] == ["console:1"] * 3
    assert frame["state"][0] == {"count": 1}
    assert len(sessions_frame(tmp_path)) == 2  # the transcript is not read as a session


def test_other_stores_keep_turns_in_memory():
    store = MemorySessionStore()
    bot = make_bot(store)
    recorder = TranscriptRecorder.for_store(store).attach(bot)
    assert recorder.path is None
    bot.say("hi")
    bot.say("quiet")  # a turn without replies still records what came in
    bot.say(payload="BUY")
    assert [(t["direction"], t["text"]) for t in recorder.turns] == [
        ("in", "hi"), ("out", "You said hi"), ("out", "Count: 1"), ("in", "quiet"),
        ("in", "BUY"), ("out", "You said BUY"), ("out", "Count: 2"),
    ]
    assert [t["state"] for t in recorder.turns][3] == {"count": 1}
    frame = recorder.frame()
    assert frame["direction"].tolist().count("in") == 3


def test_one_recorder_per_store_and_attaching_twice_records_once(tmp_path):
    store = FileSessionStore(tmp_path)
    bot = make_bot(store)
    for _ in range(3):  # what %say does on every call
        TranscriptRecorder.for_store(store).attach(bot)
    assert TranscriptRecorder.for_store(store) is TranscriptRecorder.for_store(store)
    assert TranscriptRecorder.for_store(FileSessionStore(tmp_path)) is not TranscriptRecorder.for_store(store)
    bot.say("hi")
    assert len(TranscriptRecorder.for_store(store).turns) == 3


def test_an_explicit_file_for_a_store_without_files(tmp_path):
    bot = make_bot(MemorySessionStore())
    recorder = TranscriptRecorder(tmp_path / "logs" / "chat.jsonl").attach(bot)
    bot.say("hi")
    assert len(transcripts_frame(tmp_path / "logs" / "chat.jsonl")) == 3
    assert len(recorder.turns) == 3


def test_bad_lines_are_reported_and_skipped(tmp_path):
    path = tmp_path / "transcripts.jsonl"
    good = {"time": T0, "session_id": "console:1", "platform": "console", "direction": "in",
            "text": "hi", "state": {}}
    path.write_text(json.dumps(good) + "\n[1]\n\n" + json.dumps(good) + '\n{"time": 1, "sess', encoding="utf-8")
    with pytest.warns(UserWarning, match="skipped 2"):
        frame = transcripts_frame(path)
    assert len(frame) == 2
    assert [where for where, _ in frame.attrs["errors"]] == [f"{path}:2", f"{path}:5"]


def test_a_list_of_turns_and_an_empty_transcript(tmp_path):
    frame = transcripts_frame([{"time": T0, "session_id": "console:1", "platform": "console",
                                "direction": "out", "text": "ok", "state": {"a": 1}}])
    assert frame.loc[0, "text"] == "ok" and frame.loc[0, "state"] == {"a": 1}
    empty = transcripts_frame([])
    assert list(empty.columns) == COLUMNS and len(empty) == 0
    assert TranscriptRecorder(tmp_path / "none.jsonl").turns == []
    with pytest.raises(FileNotFoundError, match="TranscriptRecorder.for_store"):
        transcripts_frame(tmp_path)


def _record_many(path: str, writer: int, count: int) -> None:
    recorder = TranscriptRecorder(path)
    state = {"writer": writer, "padding": "x" * 500}
    for index in range(count):
        recorder.record(Turn(
            session_id=f"console:{writer}", platform="console",
            text=f"{writer}-{index}", replies=["ok"],
            state_before={}, state=state, time=T0 + index,
        ))


def test_processes_appending_to_one_file_never_tear_a_line(tmp_path):
    path = str(tmp_path / "transcripts.jsonl")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_many, args=(path, writer, 200)) for writer in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    frame = transcripts_frame(path)
    assert frame.attrs["errors"] == [] and len(frame) == 4 * 200 * 2
    for writer in range(4):  # each writer's turns in order, each "in" followed by its "out"
        mine = frame[frame["session_id"] == f"console:{writer}"]
        assert mine["text"].tolist()[::2] == [f"{writer}-{index}" for index in range(200)]
        assert set(mine["direction"].tolist()[1::2]) == {"out"}
