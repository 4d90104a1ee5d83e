"""Each store's History on its own: the file layout, Redis keys and slots, Mongo's collection.

The behaviour every store shares (cap, rewind, fork, destroy, two processes) is in
test_store_conformance; here is what is particular to how each one keeps turns.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import mongomock
import pytest
from pymongo.errors import DuplicateKeyError
from redis.crc import key_slot

from bottender_nb import Bot, CorruptSessionError, FileSessionStore, MongoSessionStore
from bottender_nb.stores.file_history import FileHistory
from bottender_nb.stores.mongo_history import MongoHistory
from bottender_nb.stores.redis import RedisSessionStore
from bottender_nb.stores.redis_keys import HISTORY, is_lock_key
from servers import AsyncMongomockCollection


def turn(n: int, session_id: str = "console:1") -> dict[str, Any]:
    return {"session_id": session_id, "index": None, "time": 1.0 * n, "kind": "event",
            "platform": "console", "text": f"m{n}", "payload": None, "raw": {"n": n},
            "replies": [], "state_before": {}, "state": {"n": n}, "changed": ["n"]}


async def fill(history: Any, count: int, keep: int, session_id: str = "console:1") -> list[int]:
    return [await history.append(session_id, turn(n, session_id), keep) for n in range(count)]


# -- file ----------------------------------------------------------------------------------


async def test_file_history_lives_beside_the_sessions_never_among_them(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    bot = Bot(lambda context: None, session_store=store)
    await bot.handle_event({"message": {"text": "hi"}, "_user": "../../etc/passwd"})
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["console:..%2F..%2Fetc%2Fpasswd.json"]
    assert os.listdir(tmp_path / ".history") == ["console:..%2F..%2Fetc%2Fpasswd.jsonl"]


async def test_a_long_id_gets_a_history_file_of_its_own(tmp_path: Path) -> None:
    history = FileHistory(tmp_path)
    long_a, long_b = "console:" + "a" * 400, "console:" + "a" * 399 + "b"
    await history.append(long_a, turn(0, long_a), 10)
    await history.append(long_b, turn(1, long_b), 10)
    names = os.listdir(tmp_path / ".history")
    assert len(names) == 2 and all(len(name.encode()) <= 255 for name in names)
    assert [t["session_id"] for t in await history.read(long_a)] == [long_a]


async def test_the_file_stays_bounded_and_reads_give_the_newest_keep(tmp_path: Path) -> None:
    history = FileHistory(tmp_path)
    assert await fill(history, 1000, 10) == list(range(1000))
    path = Path(history.path("console:1"))
    assert len(path.read_bytes().splitlines()) <= 10 + 16
    assert [t["index"] for t in await history.read("console:1")] == list(range(990, 1000))
    assert [t["state"] for t in await history.read("console:1")][-1] == {"n": 999}


async def test_a_torn_last_line_is_reported_skipped_and_followed_by_a_fresh_line(tmp_path: Path) -> None:
    history = FileHistory(tmp_path)
    await fill(history, 3, 100)
    path = Path(history.path("console:1"))
    with path.open("ab") as file:
        file.write(b'{"index":3,"keep":100,"session_id":"conso')  # a writer killed mid-line
    assert [t["index"] for t in await history.read("console:1")] == [0, 1, 2]
    assert await history.append("console:1", turn(3), 100) == 3
    assert [t["text"] for t in await history.read("console:1")] == ["m0", "m1", "m2", "m3"]
    entries = await history.entries()
    bad = [(where, entry) for where, entry in entries if isinstance(entry, CorruptSessionError)]
    assert [where.rsplit(":", 1)[1] for where, _ in bad] == ["4"]
    assert "torn" in str(bad[0][1])
    assert len(entries) == 5


async def test_a_history_read_in_small_batches_names_a_bad_line_by_its_own_number(tmp_path: Path) -> None:
    """Read a part at a time (as turns_frame reads), a file's later parts keep their line
    numbers, the turns the writer dropped stay dropped, and only the bad line is skipped."""
    history = FileHistory(tmp_path)
    await fill(history, 30, 100)
    path = Path(history.path("console:1"))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[22] = b"not json\n"  # line 23, in the fifth part of five lines
    path.write_bytes(b"".join(lines))
    await history.append("console:1", turn(30), 25)  # keeps 25: indexes 6..30 are read
    batches = [batch async for batch in history.entry_batches(5)]
    entries = [entry for batch in batches for entry in batch]
    bad = [where for where, entry in entries if isinstance(entry, CorruptSessionError)]
    assert bad == [f"{path}:23"]
    good = [entry["index"] for _, entry in entries if not isinstance(entry, CorruptSessionError)]
    assert good == [index for index in range(6, 31) if index != 22]
    assert len(batches) > 1 and all(len(batch) <= 5 for batch in batches)
    whole = await history.entries()  # one batch: the same entries
    assert [(where, str(entry)) for where, entry in whole] == [(where, str(entry)) for where, entry in entries]


async def test_a_garbled_last_line_does_not_stop_the_next_append(tmp_path: Path) -> None:
    history = FileHistory(tmp_path)
    await fill(history, 2, 100)
    with Path(history.path("console:1")).open("ab") as file:
        file.write(b"not json\n")
    assert await history.append("console:1", turn(2), 100) == 2
    assert [t["index"] for t in await history.read("console:1")] == [0, 1, 2]


async def test_a_smaller_keep_trims_at_once_and_a_larger_one_reads_more(tmp_path: Path) -> None:
    history = FileHistory(tmp_path)
    await fill(history, 50, 50)
    await history.append("console:1", turn(50), 5)
    assert [t["index"] for t in await history.read("console:1")] == [46, 47, 48, 49, 50]
    assert len(Path(history.path("console:1")).read_bytes().splitlines()) <= 5 + 16


# -- redis ---------------------------------------------------------------------------------


@pytest.fixture(params=["redis", "redis-cluster"])
async def redis_store(request: pytest.FixtureRequest) -> Any:
    """A store's address, to make Redis stores (and their histories) of any prefix on."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        server.command("FLUSHALL")
        options: dict[str, Any] = {"port": server.port}
    else:
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        options = {"port": cluster.port, "cluster": True}
    stores: list[RedisSessionStore] = []

    def make(prefix: str = "") -> RedisSessionStore:
        stores.append(RedisSessionStore(prefix=prefix, **options))
        return stores[-1]

    yield make
    for store in stores:
        await store.close()


async def test_redis_history_keeps_the_newest_turns_in_a_list(redis_store: Any) -> None:
    store = redis_store("bot:")
    history = store.history
    assert await fill(history, 30, 4) == list(range(30))
    assert [t["index"] for t in await history.read("console:1")] == [26, 27, 28, 29]
    assert await store.client.llen(history.keys("console:1")[0]) == 4
    await history.replace("console:2", [{**t, "session_id": "console:2"} for t in await history.read("console:1")])
    assert await history.append("console:2", turn(99, "console:2"), 10) == 30
    assert sorted({e["session_id"] for _, e in await history.entries()}) == ["console:1", "console:2"]
    assert await redis_store("other:").history.entries() == []
    await history.destroy("console:1")
    assert await history.read("console:1") == []
    assert await history.append("console:1", turn(0), 4) == 0


async def test_redis_history_keys_share_the_session_keys_slot_and_are_no_strings(redis_store: Any) -> None:
    store = redis_store()
    history = store.history
    for session_id in ("console:1", "line:{group}x", "odd}id", ""):
        await history.append(session_id, turn(0, session_id), 5)
        for key in history.keys(session_id):
            assert key_slot(key.encode()) == key_slot(session_id.encode())
            assert not is_lock_key(session_id, (HISTORY,))
            assert await store.client.type(key) in (b"list", b"hash")
        assert is_lock_key(history.keys(session_id)[0], (HISTORY,))
    assert history.keys("console:1")[0] == "{console:1}:history:console:1"


# -- mongo ---------------------------------------------------------------------------------


async def test_mongo_history_is_a_collection_of_its_own() -> None:
    database = mongomock.MongoClient()["bottender"]
    store = MongoSessionStore(collection=AsyncMongomockCollection(database["sessions"]))
    bot = Bot(lambda context: None, session_store=store, history=3)
    for _ in range(5):
        await bot.handle_event({"message": {"text": "hi"}})
    assert database["sessions"].count_documents({}) == 1
    assert sorted(d["index"] for d in database["sessions_history"].find()) == [2, 3, 4]
    assert [t.index for t in await bot.history_async("console:1")] == [2, 3, 4]


class MeetingCollection(AsyncMongomockCollection):
    """A history collection where the first two reads of the last index wait for each other,
    so two appenders (two processes, each with its own MongoHistory) pick the same index."""

    def __init__(self, collection: Any) -> None:
        super().__init__(collection)
        self.meeting = asyncio.Barrier(2)
        self.reads = 0
        self.taken: list[int] = []  # indexes an insert found already taken

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        found = self.sync.find_one(*args, **kwargs)
        self.reads += 1
        if self.reads <= 2:
            await self.meeting.wait()
        return found

    async def insert_one(self, document: dict[str, Any]) -> Any:
        try:
            return self.sync.insert_one(document)
        except DuplicateKeyError:
            self.taken.append(document["index"])
            raise


async def test_mongo_history_takes_the_next_index_when_another_process_took_one() -> None:
    database = mongomock.MongoClient()["bottender"]
    history = MeetingCollection(database["sessions_history"])

    async def sessions() -> Any:  # the store's sessions collection, whose sibling is ``history``
        return type("Sessions", (), {"name": "sessions", "database": {"sessions_history": history}})

    first, second = MongoHistory(sessions), MongoHistory(sessions)

    async def appends(history: MongoHistory, turns: range) -> list[int]:
        return [await history.append("console:1", turn(n), 100) for n in turns]

    mine, theirs = await asyncio.wait_for(
        asyncio.gather(appends(first, range(0, 5)), appends(second, range(5, 10))), 60)
    assert history.taken == [0]  # both read "no turn yet"; one insert met the other's index 0
    assert sorted(mine + theirs) == list(range(10))  # the loser took the next: none shared
    kept = await first.read("console:1")
    assert sorted(t["text"] for t in kept) == sorted(f"m{n}" for n in range(10))
    database["sessions_history"].insert_one({"session_id": "console:1", "index": 10, "turn": "{}"})
    assert await first.append("console:1", turn(11), 100) == 11  # past the one it did not give
    entries = await first.entries()
    assert [e["index"] for _, e in entries] == list(range(12))


async def test_two_processes_trimming_one_file_history_keep_the_newest_in_order(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    helper = Path(__file__).parent / "helpers" / "append_turns.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    go = tmp_path / "go"
    workers = [
        subprocess.Popen([sys.executable, str(helper), "file", str(tmp_path / "s"), "150", str(go), "7"],
                         env=env)
        for _ in range(2)
    ]
    time.sleep(1.0)
    go.touch()
    assert [await asyncio.to_thread(worker.wait, 120) for worker in workers] == [0, 0]
    turns = await FileHistory(tmp_path / "s").read("console:1")
    assert [(t["index"], t["state"]["count"]) for t in turns] == [(n, n + 1) for n in range(293, 300)]
    assert turns[-1]["state"]["handovers"] > 1  # they raced: one after the other hands over once
    assert len((tmp_path / "s" / ".history" / "console:1.jsonl").read_bytes().splitlines()) <= 7 + 16


async def test_file_history_without_pread_as_on_windows(tmp_path: Path, monkeypatch) -> None:
    from bottender_nb.stores import file_history

    monkeypatch.setattr(file_history, "_HAS_PREAD", False)
    history = FileHistory(tmp_path)
    assert await fill(history, 40, 10) == list(range(40))
    assert [t["index"] for t in await history.read("console:1")] == list(range(30, 40))
