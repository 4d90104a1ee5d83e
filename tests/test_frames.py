"""SPEC §5 / issue 5: stored sessions as a DataFrame, from a directory, a store or a list."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os

import numpy as np
import pandas as pd
import pytest

from bottender_nb import (
    Bot, CorruptSessionError, FileSessionStore, MemorySessionStore, sessions_frame,
)
from bottender_nb.analysis import sources

T0 = 1_578_000_000  # 2020-01-02T21:20:00Z, epoch seconds
FIXED = ["id", "platform", "key", "user_id", "last_activity"]


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def write_raw(dirname, name: str, text: str) -> None:
    with open(os.path.join(dirname, name), "w", encoding="utf-8") as file:
        file.write(text)


def compact(record: dict) -> str:
    """JSON as Bottender's file store (node jfs, pretty: false) writes it."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


BOTTENDER_FILES = {
    "console:1.json": compact({
        "id": "console:1", "platform": "console",
        "user": {"id": "1", "name": "you", "_updatedAt": "2020-01-02T21:19:59.000Z"},
        "_state": {"count": 3, "profile": {"name": "Ann", "tags": ["a", "b"]}},
        "lastActivity": T0 * 1000,
    }),
    "line:C4af4980629.json": compact({
        "id": "line:C4af4980629", "platform": "line", "type": "group",
        "group": {"id": "C4af4980629", "members": [], "_updatedAt": "2020-01-02T21:00:00.000Z"},
        "user": {"id": "U206d25c2ea", "displayName": "Brown", "_updatedAt": "2020-01-02T21:00:00.000Z"},
        "_state": {"count": 1, "profile": {"name": "Brown"}, "muted": True},
        "lastActivity": (T0 - 3600) * 1000,
    }),
    "messenger:1412611362105802.json": compact({
        "id": "messenger:1412611362105802", "platform": "messenger",
        "page": {"id": "1895382890692545", "_updatedAt": "2020-01-01T00:00:00.000Z"},
        "user": {"id": "1412611362105802", "_updatedAt": "2020-01-01T00:00:00.000Z"},
        "_state": {"muted": False},
        "lastActivity": (T0 - 86400) * 1000,
    }),
    "whatsapp:whatsapp:+15551234567.json": compact({
        "id": "whatsapp:whatsapp:+15551234567", "platform": "whatsapp",
        "user": {"id": "whatsapp:+15551234567"}, "_state": {}, "lastActivity": T0 * 1000,
    }),
}


@pytest.fixture
def bottender_dir(tmp_path):
    for name, text in BOTTENDER_FILES.items():
        write_raw(tmp_path, name, text)
    return tmp_path


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("id")


def test_bottender_directory_gives_one_row_per_session(bottender_dir):
    frame = sessions_frame(bottender_dir)
    assert len(frame) == 4
    assert list(frame.columns[:5]) == FIXED
    assert "expired" not in frame.columns  # no expiry known
    rows = by_id(frame)
    assert rows.loc["whatsapp:whatsapp:+15551234567", "key"] == "whatsapp:+15551234567"
    assert rows.loc["line:C4af4980629", "platform"] == "line"
    assert rows.loc["line:C4af4980629", "user_id"] == "U206d25c2ea"
    assert rows.loc["messenger:1412611362105802", "key"] == "1412611362105802"
    assert rows.loc["console:1", "last_activity"] == pd.Timestamp("2020-01-02T21:20:00Z")
    assert frame.attrs["errors"] == []


def test_nested_state_is_flattened_with_dotted_columns(bottender_dir):
    rows = by_id(sessions_frame(bottender_dir))
    assert {"state.count", "state.profile.name", "state.profile.tags", "state.muted"} <= set(rows.columns)
    assert "state.profile" not in rows.columns
    assert rows.loc["console:1", "state.profile.name"] == "Ann"
    assert rows.loc["console:1", "state.profile.tags"] == ["a", "b"]
    assert pd.isna(rows.loc["messenger:1412611362105802", "state.profile.name"])


def test_dtypes_are_what_pandas_users_expect(bottender_dir):
    frame = sessions_frame(bottender_dir)
    assert str(frame["last_activity"].dtype) == "datetime64[ns, UTC]"
    assert frame["state.count"].dtype == "Int64"  # two sessions have no count
    assert frame["state.count"].isna().sum() == 2
    assert frame["state.muted"].dtype == "boolean"
    assert frame["state.profile.tags"].dtype == object
    assert pd.api.types.is_string_dtype(frame["state.profile.name"])
    assert pd.api.types.is_string_dtype(frame["id"])


def test_column_types_from_a_list():
    sessions = [
        {"id": "console:1", "_state": {"n": 1, "x": 1, "f": 1.5, "big": 2**70, "mixed": 1,
                                        "pair": [1, 2], "empty": {}, "a": {"b": {"c": 1}}}},
        {"id": "console:2", "_state": {"n": 2, "x": None, "f": 2, "big": 1, "mixed": "one",
                                        "pair": [3, 4], "empty": {}, "a": {"b": {"c": 2}}}},
    ]
    frame = sessions_frame(sessions)
    assert frame["state.n"].dtype == np.int64
    assert frame["state.x"].dtype == "Int64" and frame["state.x"].isna().tolist() == [False, True]
    assert frame["state.f"].dtype == np.float64
    assert frame["state.big"].dtype == object and frame["state.big"][0] == 2**70
    assert frame["state.mixed"].dtype == object
    assert frame["state.pair"].dtype == object and frame["state.pair"][1] == [3, 4]
    assert frame["state.empty"].tolist() == [{}, {}]  # kept, unlike json_normalize
    assert frame["state.a.b.c"].tolist() == [1, 2]
    assert frame["platform"].tolist() == ["console", "console"]  # from the id when absent
    assert frame["user_id"].isna().all() and frame["last_activity"].isna().all()


def test_a_field_that_is_sometimes_a_dict_keeps_both_shapes():
    frame = sessions_frame([
        {"id": "console:1", "_state": {"a": {"b": 1}}},
        {"id": "console:2", "_state": {"a": 5}},
        {"id": "console:3", "_state": {}},
    ])
    assert frame["state.a.b"].tolist()[0] == 1 and frame["state.a.b"].isna().tolist() == [False, True, True]
    assert frame["state.a"].isna().tolist() == [True, False, True]
    assert frame["state.a"][1] == 5


def test_corrupt_files_are_reported_and_never_stop_the_load(bottender_dir):
    write_raw(bottender_dir, "console:bad.json", '{"id": "console:bad", ')
    write_raw(bottender_dir, "console:array.json", "[1, 2]")
    write_raw(bottender_dir, "console:noid.json", '{"platform": "console", "_state": {}}')
    write_raw(bottender_dir, "console:state.json", '{"id": "console:state", "_state": "x"}')
    with pytest.warns(UserWarning, match=r"skipped 4 .*attrs\['errors'\]"):
        frame = sessions_frame(bottender_dir)
    assert len(frame) == 4
    errors = dict(frame.attrs["errors"])
    assert set(map(os.path.basename, errors)) == {
        "console:bad.json", "console:array.json", "console:noid.json", "console:state.json"
    }
    reasons = {os.path.basename(path): why for path, why in errors.items()}
    assert "not valid JSON" in reasons["console:bad.json"]
    assert "array" in reasons["console:array.json"]
    assert '"id"' in reasons["console:noid.json"]
    assert "_state" in reasons["console:state.json"]


def test_only_session_files_are_read(bottender_dir):
    (bottender_dir / ".locks").mkdir()
    write_raw(bottender_dir / ".locks", "console:1.lock", "")
    write_raw(bottender_dir, ".123-abcd-0.tmp", '{"id": "console:tmp"}')
    write_raw(bottender_dir, "transcripts.jsonl", '{"direction": "in"}\n')
    write_raw(bottender_dir, "notes.txt", "hello")
    (bottender_dir / "archive.json").mkdir()
    with pytest.warns(UserWarning, match="skipped 1 entries"):
        frame = sessions_frame(bottender_dir)
    # read through the file store, as it lists them: a directory named *.json is named, not read
    assert len(frame) == 4 and [why for _, why in frame.attrs["errors"]] == [
        f"The session file {bottender_dir / 'archive.json'} is a directory, not a regular file; "
        "remove it (it was left untouched)."]


def test_a_directory_written_by_this_package(tmp_path):
    clock = FakeClock()

    async def action(context):
        context.set_state({"count": context.state["count"] + 1, "last": context.event.text})

    store = FileSessionStore(tmp_path)
    bot = Bot(action, initial_state={"count": 0, "prefs": {"lang": "en"}}, session_store=store, clock=clock)
    bot.say("hi")
    bot.say("again")
    bot.say("hi", user="2")
    bot.say("hey", platform="line", user="U1", group="G1")
    bot.say("yo", platform="messenger", user="42")
    rows = by_id(sessions_frame(tmp_path))
    assert sorted(rows.index) == ["console:1", "console:2", "line:G1", "messenger:42"]
    assert rows["state.count"].dtype == np.int64
    assert rows.loc["console:1", "state.count"] == 2
    assert rows.loc["console:1", "state.last"] == "again"
    assert rows.loc["line:G1", "user_id"] == "U1"
    assert rows.loc["messenger:42", "user_id"] == "42"
    assert (rows["state.prefs.lang"] == "en").all()
    assert (rows["last_activity"] == pd.Timestamp(T0, unit="s", tz="UTC")).all()
    assert by_id(sessions_frame(store)).equals(rows)  # the store reads the same files


def test_a_file_store_source_reports_bad_files_instead_of_raising(tmp_path):
    write_raw(tmp_path, "console:1.json", BOTTENDER_FILES["console:1.json"])
    write_raw(tmp_path, "console:2.json", "not json")
    with pytest.warns(UserWarning, match="skipped 1"):
        frame = sessions_frame(FileSessionStore(tmp_path))
    assert frame["id"].tolist() == ["console:1"]
    assert len(frame.attrs["errors"]) == 1


def test_a_missing_file_store_directory_is_an_empty_frame(tmp_path):
    frame = sessions_frame(FileSessionStore(tmp_path / "never-written"))
    assert len(frame) == 0 and list(frame.columns) == FIXED


def test_a_store_marks_expired_sessions_instead_of_hiding_them():
    clock = FakeClock()
    store = MemorySessionStore(expires_in=30, clock=clock)
    store_sessions = [
        {"id": "console:old", "platform": "console", "_state": {"n": 1}, "lastActivity": (T0 - 3600) * 1000},
        {"id": "console:new", "platform": "console", "_state": {"n": 2}, "lastActivity": (T0 - 60) * 1000},
        {"id": "console:never", "platform": "console", "_state": {"n": 3}},
    ]
    from bottender_nb.session.sync import run_sync

    for record in store_sessions:
        run_sync(store.write(record["id"], record))
    rows = by_id(sessions_frame(store))
    assert rows["expired"].dtype == bool
    assert rows["expired"].to_dict() == {"console:old": True, "console:new": False, "console:never": False}
    clock.now -= 3600
    assert not sessions_frame(store)["expired"].any()  # the store's clock decides
    clock.now = T0
    assert sessions_frame(store, expires_in=dt.timedelta(seconds=30))["expired"].sum() == 2


def test_a_directory_gets_expired_from_an_expires_in_argument(bottender_dir):
    frame = sessions_frame(bottender_dir, expires_in=90, clock=FakeClock(T0 + 60))
    assert by_id(frame)["expired"].to_dict() == {
        "console:1": False, "line:C4af4980629": False,
        "messenger:1412611362105802": True, "whatsapp:whatsapp:+15551234567": False,
    }


def test_a_list_with_invalid_items_reports_them():
    with pytest.warns(UserWarning, match="skipped 2"):
        frame = sessions_frame([{"id": "console:1"}, ["x"], {"id": 5}])
    assert frame["id"].tolist() == ["console:1"]
    assert [where for where, _ in frame.attrs["errors"]] == ["item 1", "item 2"]


def test_a_duck_typed_store_with_async_all():
    class Sessions:
        async def all(self):
            return [{"id": "slack:C1", "platform": "slack", "_state": {"x": 1}}]

    assert sessions_frame(Sessions())["id"].tolist() == ["slack:C1"]


async def test_works_inside_a_running_event_loop():
    store = MemorySessionStore()
    await store.write("console:1", {"id": "console:1", "platform": "console", "_state": {"n": 1}})
    frame = sessions_frame(store)  # a plain call, as in a Jupyter cell
    assert frame["state.n"].tolist() == [1]


def test_empty_sources_keep_the_fixed_columns(tmp_path):
    for source in (tmp_path, []):
        frame = sessions_frame(source)
        assert len(frame) == 0 and list(frame.columns) == FIXED


def test_bad_sources_raise_clear_errors(tmp_path):
    from bottender_nb.errors import BottenderNbError

    with pytest.raises(FileNotFoundError, match="not a directory of session files") as missing:
        sessions_frame(tmp_path / "nope")
    with pytest.raises(TypeError, match="directory name, a session store or a list") as wrong:
        sessions_frame(42)
    assert isinstance(missing.value, BottenderNbError) and isinstance(wrong.value, BottenderNbError)


def test_progress_bar_for_large_loads_only(tmp_path, capsys, monkeypatch):
    for index in range(5):
        write_raw(tmp_path, f"console:{index}.json", compact({"id": f"console:{index}"}))
    sessions_frame(tmp_path)
    assert "sessions" not in capsys.readouterr().err
    sessions_frame(tmp_path, progress=True)
    assert "5 sessions" in capsys.readouterr().err  # a store streams: a count, no total
    monkeypatch.setattr(sources, "PROGRESS_THRESHOLD", 3)
    sessions_frame(tmp_path)
    assert "5 sessions" in capsys.readouterr().err
    sessions_frame(tmp_path, progress=False)
    assert capsys.readouterr().err == ""
    sessions_frame([{"id": f"console:{i}"} for i in range(4)])
    assert "4 sessions" in capsys.readouterr().err


def test_byte_order_marks_large_files_and_bad_bytes(tmp_path):
    record = {"id": "console:bom", "_state": {"name": "Zoë"}}
    (tmp_path / "console:bom.json").write_bytes(b"\xef\xbb\xbf" + compact(record).encode())
    big = {"id": "console:big", "_state": {"notes": "x" * 200_000}}  # past one 64 KiB read
    write_raw(tmp_path, "console:big.json", compact(big))
    (tmp_path / "console:latin.json").write_bytes('{"id": "console:latin", "_state": {"n": "Zoë"}}'.encode("latin-1"))
    with pytest.warns(UserWarning, match="skipped 1"):
        rows = by_id(sessions_frame(tmp_path))
    assert rows.loc["console:bom", "state.name"] == "Zoë"
    assert len(rows.loc["console:big", "state.notes"]) == 200_000
    assert [os.path.basename(path) for path, _ in rows.attrs["errors"]] == ["console:latin.json"]


def test_frozen_and_other_mappings_in_a_list():
    from types import MappingProxyType

    from bottender_nb.frozen import freeze

    frame = sessions_frame([
        MappingProxyType({"id": "console:1", "_state": freeze({"a": {"b": 1}, "n": [1]})}),
        {"id": "console:2", "_state": {"a": freeze({"b": 2})}},
    ])
    assert frame["state.a.b"].tolist() == [1, 2]
    assert frame["state.n"][0] == [1]


# --- issue 13: bad entries and values are reported, the rest loaded ---


@pytest.mark.parametrize("last_activity", ["1e30", str(2**63), "-1e30", "1e400"])
def test_a_last_activity_out_of_range_is_reported_and_its_row_kept(tmp_path, last_activity):
    write_raw(tmp_path, "console:1.json", '{"id":"console:1","_state":{"n":1},"lastActivity":'
              + last_activity + "}")
    write_raw(tmp_path, "console:2.json", compact(
        {"id": "console:2", "_state": {"n": 2}, "lastActivity": T0 * 1000}))
    with pytest.warns(UserWarning, match=r"skipped 0 .* left 1 value\(s\) .* empty"):
        frame = by_id(sessions_frame(tmp_path, expires_in=30, clock=FakeClock(T0)))
    assert frame["state.n"].tolist() == [1, 2]
    assert pd.isna(frame.loc["console:1", "last_activity"])
    assert frame.loc["console:2", "last_activity"] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert frame["expired"].tolist() == [False, False]  # unknown age never counts as expired
    [(where, why)] = frame.attrs["errors"]
    assert where.endswith("console:1.json") and "lastActivity" in why and "kept" in why


@pytest.mark.parametrize("last_activity", ['"yesterday"', "true", "[1]"])
def test_a_last_activity_that_is_no_number_is_an_invalid_session_as_the_store_says(
    tmp_path, last_activity
):
    write_raw(tmp_path, "console:1.json", '{"id":"console:1","_state":{"n":1},"lastActivity":'
              + last_activity + "}")
    write_raw(tmp_path, "console:2.json", compact(
        {"id": "console:2", "_state": {"n": 2}, "lastActivity": T0 * 1000}))
    with pytest.warns(UserWarning, match=r"skipped 1 entries that are not valid sessions"):
        frame = sessions_frame(tmp_path, expires_in=30, clock=FakeClock(T0))
    assert frame["id"].tolist() == ["console:2"]
    [(where, why)] = frame.attrs["errors"]
    assert where.endswith("console:1.json") and "lastActivity" in why
    with pytest.raises(CorruptSessionError, match="lastActivity"):
        asyncio.run(FileSessionStore(tmp_path).read("console:1"))


def test_colliding_flattened_names_are_kept_apart():
    frame = sessions_frame([
        {"id": "console:1", "_state": {"a.b": 1, "a": {"b": 2}}},
        {"id": "console:2", "_state": {"a": {"b": 3}, "x.y": "dotted, no collision"}},
        {"id": "console:3", "_state": {"p.q": {"r": 4}, "p": {"q.r": 5},
                                       "s\\.t": 6, "s.t": 7, "s": {"t": 8}}},
    ])
    assert frame["state.a.b"].tolist()[:2] == [2, 3]
    assert frame["state.a\\.b"].tolist()[0] == 1 and frame["state.a\\.b"].isna().tolist()[1:] == [True, True]
    assert frame["state.x.y"].tolist()[1] == "dotted, no collision"
    assert frame["state.p\\.q.r"].tolist()[2] == 4 and frame["state.p.q\\.r"].tolist()[2] == 5
    third = frame.filter(like="state.").iloc[2].dropna()
    assert sorted(third.tolist()) == [4, 5, 6, 7, 8]  # nothing lost, even with backslashes
    assert frame["state.s.t"].tolist()[2] == 8
    assert frame["state.s\\.t"].tolist()[2] == 7  # the key "s.t"
    assert frame["state.s\\\\\\.t"].tolist()[2] == 6  # the key "s\\.t": backslash escaped too
    assert frame.attrs["errors"] == []


def test_state_nested_deeper_than_the_flattening_stays_one_column_of_dicts(tmp_path):
    deep: object = 1
    for _ in range(100):  # deeper than the flattening, within what state may nest
        deep = {"a": deep}
    write_raw(tmp_path, "console:1.json", compact({"id": "console:1", "_state": {"deep": deep}}))
    frame = sessions_frame(tmp_path)
    from bottender_nb.analysis.columns import FLATTEN_DEPTH

    [name] = [column for column in frame.columns if column.startswith("state.")]
    assert name == "state." + ".".join(["deep"] + ["a"] * (FLATTEN_DEPTH - 1))
    assert isinstance(frame[name].iloc[0], dict)


class EntriesStore(MemorySessionStore):
    """A store with ``entries()``: each session or the error reading it (SessionStore's API)."""

    async def entries(self):
        from bottender_nb import CorruptSessionError

        good = [(record["id"], record) for record in await self._all()]
        return [*good, ("bad:key", CorruptSessionError("bad:key is not valid JSON; fix it."))]


def test_a_store_with_entries_reports_a_bad_one_and_loads_the_rest():
    store = EntriesStore()
    for n in range(99):
        Bot(lambda context: context.set_state({"n": n}), session_store=store).say(
            "hi", platform="console", user=f"u{n}")
    with pytest.warns(UserWarning, match="skipped 1"):
        frame = sessions_frame(store)
    assert len(frame) == 99
    assert frame.attrs["errors"] == [("bad:key", "bad:key is not valid JSON; fix it.")]


def test_a_redis_store_with_one_bad_key_among_100_is_reported_not_raised(redis_server):
    from bottender_nb import RedisSessionStore

    redis_server.command("FLUSHALL")
    store = RedisSessionStore(port=redis_server.port)
    for n in range(99):
        Bot(lambda context: context.set_state({"n": 1}), session_store=store).say(
            "hi", user=f"u{n}")
    redis_server.command("SET", "console:bad", "{not json")
    with pytest.warns(UserWarning, match="sessions_frame skipped 1"):
        frame = sessions_frame(store)
    [(where, why)] = frame.attrs["errors"]
    assert "console:bad" in where + why
    # Every good key is loaded as well: one bad session does not cost the others.
    assert sorted(frame["id"]) == sorted(f"console:u{n}" for n in range(99))
