"""One suite every session store passes, against the real thing where it can be had.

memory; file (a temporary directory); redis (a real ``redis-server``); redis-cluster (a real
3-master Redis Cluster); mongo (mongomock behind pymongo's async API: no MongoDB server can be
had here). Store-specific behaviour (LRU, file names, cross-process runs, Redis restarts ...)
lives in ``test_store_<kind>.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bottender_nb import (
    Bot, CorruptSessionError, FileSessionStore, HistoryError, MemorySessionStore,
    MongoSessionStore, StateError,
)
from bottender_nb.stores.base import SessionStore
from servers import AsyncMongomockCollection

STORES = ["memory", "file", "redis", "redis-cluster", "mongo"]
PERSISTENT = ["file", "redis", "redis-cluster", "mongo"]  # the ones with a format to share
HI = {"message": {"text": "hi"}}
T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session(session_id: str, last_activity: float = T0 * 1000, **state: Any) -> dict[str, Any]:
    platform, _, key = session_id.partition(":")
    return {
        "id": session_id, "platform": platform, "user": {"id": key}, "_state": state,
        "lastActivity": int(last_activity),
    }


class Backend:
    """Makes stores of one kind for a test and reaches their storage behind their back."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.stores: list[SessionStore] = []
        self.raw: Any = None
        if kind.startswith("redis"):
            from bottender_nb import RedisSessionStore  # its own failure fails only its backends
        if kind == "redis":
            self.server = request.getfixturevalue("redis_server")
            self.server.command("FLUSHALL")
            self.raw = RedisSessionStore(port=self.server.port).client
        elif kind == "redis-cluster":
            self.server = request.getfixturevalue("redis_cluster")
            self.server.flush()
            self.raw = RedisSessionStore(port=self.server.port, cluster=True).client
        elif kind == "mongo":
            import mongomock

            self.raw = mongomock.MongoClient()["bottender"]["sessions"]

    async def make(self, **options: Any) -> SessionStore:
        store: SessionStore
        if self.kind == "memory":
            store = MemorySessionStore(**options)
        elif self.kind == "file":
            store = FileSessionStore(self.tmp_path / "sessions", **options)
        elif self.kind == "mongo":
            store = MongoSessionStore(collection=AsyncMongomockCollection(self.raw), **options)
        else:
            from bottender_nb import RedisSessionStore

            store = RedisSessionStore(
                port=self.server.port, cluster=self.kind == "redis-cluster", **options
            )
        self.stores.append(store)
        return await store.init()

    async def raw_get(self, session_id: str) -> Any:
        """What the storage holds: the text (file, redis), the document (mongo)."""
        if self.kind == "file":
            path = self.tmp_path / "sessions" / f"{session_id}.json"
            return path.read_text() if path.exists() else None
        if self.kind == "mongo":
            return self.raw.find_one({"id": session_id})
        value = await self.raw.get(session_id)
        return None if value is None else value.decode()

    async def raw_put(self, session_id: str, record: dict[str, Any]) -> None:
        """Store ``record`` the way a Bottender (Node) bot does."""
        text = json.dumps(record, separators=(",", ":"))  # JSON.stringify
        if self.kind == "file":
            (self.tmp_path / "sessions").mkdir(exist_ok=True)
            (self.tmp_path / "sessions" / f"{session_id}.json").write_text(text)
        elif self.kind == "mongo":  # updateOne({id}, {$set: sess}, {upsert: true})
            self.raw.update_one({"id": session_id}, {"$set": record}, upsert=True)
        else:
            await self.raw.set(session_id, text)

    async def lock_is_free(self, session_id: str) -> bool:
        """What another process sees: is the session's cross-process lock free right now?"""
        if self.kind == "file":
            from bottender_nb.stores.filenames import session_filename
            from filelock import lock_descriptor, unlock_descriptor

            path = self.tmp_path / "sessions" / ".locks" / (session_filename(session_id)[:-5] + ".lock")
            if not path.exists():
                return True
            fd = os.open(path, os.O_RDWR)
            try:
                if not lock_descriptor(fd, blocking=False):
                    return False
                unlock_descriptor(fd)
                return True
            finally:
                os.close(fd)
        if self.kind.startswith("redis"):
            from bottender_nb.stores.redis_keys import lock_key

            return not await self.raw.exists(lock_key(session_id))
        return True  # memory and mongo share no lock across processes

    async def server_ttl(self, session_id: str) -> int | None:
        """Seconds until the server drops the key, for stores whose server expires keys."""
        return await self.raw.ttl(session_id) if self.kind.startswith("redis") else None

    async def close(self) -> None:
        for store in self.stores:
            await store.close()
        if self.kind.startswith("redis"):
            await self.raw.aclose()


@pytest.fixture(params=STORES)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    backend = Backend(request.param, request, tmp_path)
    yield backend
    await backend.close()


async def counter(context: Any) -> None:
    current = context.state["count"]
    await asyncio.sleep(0)  # another event of the session would interleave here
    context.set_state({"count": current + 1})


# -- read / write / destroy / all ---------------------------------------------------------


async def test_round_trip(backend: Backend) -> None:
    store = await backend.make()
    assert await store.read("console:1") is None
    record = session("console:1", count=1, nested={"a": [1, 2.5, None, True, "é"]})
    await store.write("console:1", record)
    assert await store.read("console:1") == record
    await store.write("console:1", session("console:1", count=2))
    assert (await store.read("console:1"))["_state"] == {"count": 2}


@pytest.mark.parametrize("backend", ["memory", "file", "redis", "redis-cluster"], indirect=True)
async def test_a_lone_surrogate_round_trips(backend: Backend) -> None:
    """UTF-8 cannot carry one; stores of JSON text escape it, as JSON.stringify does.

    (Not MongoDB: BSON strings must be valid UTF-8, so that store refuses the write with a
    StateError naming the value: see test_store_mongo.)
    """
    store = await backend.make()
    record = session("console:1", text="half a pair: \ud83d", emoji="😀")
    await store.write("console:1", record)
    assert await store.read("console:1") == record


@pytest.mark.parametrize("backend", ["memory", "file", "redis", "redis-cluster"], indirect=True)
async def test_integers_beyond_64_bits_round_trip_exactly(backend: Backend) -> None:
    """JSON carries them; a fast parser that reads them as floats would change them silently.

    (Not MongoDB: BSON integers are 64-bit at most, so that store refuses them with a
    StateError: see test_store_mongo.)
    """
    store = await backend.make()
    record = session("console:1", big=2**70, low=-(2**63) - 1, top=2**64 - 1, plain=12)
    await store.write("console:1", record)
    stored = await store.read("console:1")
    assert stored == record
    assert all(type(value) is int for value in stored["_state"].values())


async def test_destroy(backend: Backend) -> None:
    store = await backend.make()
    await store.write("console:1", session("console:1"))
    await store.destroy("console:1")
    assert await store.read("console:1") is None
    await store.destroy("console:1")  # deleting an absent session is not an error
    await store.destroy("never:seen")


async def test_all_lists_every_session(backend: Backend) -> None:
    store = await backend.make()
    assert await store.all() == []
    records = [session(f"messenger:{n}", count=n) for n in range(5)]
    for record in records:
        await store.write(record["id"], record)
    await store.destroy("messenger:3")
    listed = sorted(await store.all(), key=lambda record: record["id"])
    assert listed == [record for record in records if record["id"] != "messenger:3"]


async def test_reads_are_copies(backend: Backend) -> None:
    store = await backend.make()
    record = session("console:1", items=[1], nested={"a": 1})
    await store.write("console:1", record)
    record["_state"]["items"].append(2)  # the caller's dict is not the stored one
    first = await store.read("console:1")
    first["_state"]["nested"]["a"] = 99
    first["extra"] = True
    assert await store.read("console:1") == session("console:1", items=[1], nested={"a": 1})
    assert (await store.all())[0]["_state"] == {"items": [1], "nested": {"a": 1}}


async def test_reads_under_the_lock_are_copies(backend: Backend) -> None:
    store = await backend.make()
    await store.write("console:1", session("console:1", items=[1]))
    async with store.lock("console:1"):
        first = await store.read("console:1")
        first["_state"]["items"].append(2)
        assert (await store.read("console:1"))["_state"] == {"items": [1]}
        await store.write("console:1", first)
    async with store.lock("console:1"):
        assert (await store.read("console:1"))["_state"] == {"items": [1, 2]}


# -- expiry ---------------------------------------------------------------------------------


async def test_expiry_by_last_activity(backend: Backend) -> None:
    clock = FakeClock()
    store = await backend.make(expires_in=5, clock=clock)  # minutes, like Bottender
    await store.write("console:1", session("console:1", last_activity=clock() * 1000, count=1))
    await store.write("console:2", session("console:2", last_activity=clock() * 1000 + 60_000))
    clock.now += 5 * 60 - 1
    assert (await store.read("console:1"))["_state"] == {"count": 1}
    clock.now += 2
    assert await store.read("console:1") is None
    assert [record["id"] for record in await store.all()] == ["console:2"]
    ttl = await backend.server_ttl("console:1")
    if ttl is not None:  # redis: the value was written with SETEX expires_in minutes * 60
        assert 290 < ttl <= 300


async def test_an_expired_session_starts_from_initial_state(backend: Backend) -> None:
    clock = FakeClock()
    store = await backend.make(expires_in=1, clock=clock)
    bot = Bot(counter, initial_state={"count": 0}, session_store=store, clock=clock)
    await bot.handle_request(HI)
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 2}
    ttl = await backend.server_ttl("console:1")
    if ttl is not None:  # the locked write path expires keys too
        assert 50 < ttl <= 60
    clock.now += 61
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 1}


async def test_no_expiry_without_expires_in(backend: Backend) -> None:
    clock = FakeClock()
    store = await backend.make(clock=clock)
    await store.write("console:1", session("console:1", last_activity=0))
    clock.now += 10 * 365 * 24 * 3600
    assert await store.read("console:1") is not None
    ttl = await backend.server_ttl("console:1")
    if ttl is not None:
        assert ttl == -1  # a plain SET, as Bottender does when expiresIn is 0


# -- JSON only -------------------------------------------------------------------------------


async def test_non_json_state_raises_and_keeps_the_previous_record(backend: Backend) -> None:
    store = await backend.make()
    before = session("console:1", count=1)
    await store.write("console:1", before)
    with pytest.raises(StateError, match="'bad'"):
        await store.write("console:1", session("console:1", count=2, bad=object()))
    assert await store.read("console:1") == before


async def test_non_json_state_from_an_action_keeps_the_previous_state(backend: Backend) -> None:
    async def action(context: Any) -> None:
        if context.event.text == "bad":
            context.set_state({"count": 99, "bad": {1, 2}})
        else:
            context.set_state({"count": context.state["count"] + 1})

    store = await backend.make()
    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    with pytest.raises(StateError, match="'bad'"):
        await bot.handle_request({"message": {"text": "bad"}})
    assert (await store.read("console:1"))["_state"] == {"count": 1}
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 2}


# -- no lost update ------------------------------------------------------------------------


async def test_1000_overlapping_events_on_one_session(backend: Backend) -> None:
    store = await backend.make()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    await asyncio.gather(*(bot.handle_request(HI) for _ in range(1000)))
    assert (await store.read("console:1"))["_state"] == {"count": 1000}


async def test_overlapping_events_of_many_sessions(backend: Backend) -> None:
    store = await backend.make()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    bodies = [{"sender": {"id": str(n)}, "message": {"text": "hi"}} for n in range(20)]
    await asyncio.gather(*(bot.handle_request(body, "messenger") for body in bodies * 25))
    states = {record["id"]: record["_state"] for record in await store.all()}
    assert states == {f"messenger:{n}": {"count": 25} for n in range(20)}


# -- Bottender's format ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_stored_in_bottenders_format(backend: Backend) -> None:
    store = await backend.make()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store, clock=lambda: T0)
    await bot.handle_request(HI)
    raw = await backend.raw_get("console:1")
    # What Bottender's console bot writes (JSON.stringify of its session): these fields, in
    # this order, lastActivity in milliseconds.
    expected = ('{"id":"console:1","platform":"console","user":{"id":"1","name":"you"},'
                '"_state":{"count":1},"lastActivity":1700000000000}')
    if isinstance(raw, str):  # the exact text
        assert raw == expected
    else:  # a document: the same fields plus MongoDB's _id
        assert {k: v for k, v in raw.items() if k != "_id"} == json.loads(expected)
    assert await store.read("console:1") == json.loads(expected)


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_reads_what_bottender_wrote(backend: Backend) -> None:
    written = session("messenger:42", count=7)
    written["page"] = {"id": "page-1"}  # a field Bottender keeps, preserved on write
    await backend.raw_put("messenger:42", written)
    store = await backend.make()
    assert await store.read("messenger:42") == written
    assert await store.all() == [written]
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    await bot.handle_request({"sender": {"id": "42"}, "message": {"text": "hi"}}, "messenger")
    updated = await store.read("messenger:42")
    assert updated["_state"] == {"count": 8} and updated["page"] == {"id": "page-1"}


# -- ordering, blocking, cancelling (SPEC §3: the guarantees every store keeps) ---------------


async def test_two_bots_sharing_a_store_lose_no_update(backend: Backend) -> None:
    """In a notebook two bots share the default store; their events of one session take turns."""
    store = await backend.make()
    bots = [Bot(counter, initial_state={"count": 0}, session_store=store) for _ in range(2)]
    await asyncio.gather(*(bots[n % 2].handle_request(HI) for n in range(200)))
    assert (await store.read("console:1"))["_state"] == {"count": 200}


async def test_two_bots_sharing_a_store_handle_a_session_in_arrival_order(backend: Backend) -> None:
    seen: list[str] = []

    async def record_text(context: Any) -> None:
        await asyncio.sleep(0)
        seen.append(context.event.text)

    store = await backend.make()
    bots = [Bot(record_text, session_store=store) for _ in range(2)]
    texts = [str(n) for n in range(40)]
    await asyncio.gather(
        *(bots[n % 2].handle_request({"message": {"text": text}}) for n, text in enumerate(texts))
    )
    assert seen == texts


@pytest.mark.parametrize("seconds", [0.5, 2])
async def test_a_blocking_action_in_back_to_back_events_loses_nothing(
    backend: Backend, seconds: float
) -> None:
    """A synchronous call (requests.get, an SDK) blocks the loop inside the second event."""

    async def action(context: Any) -> None:
        if context.state["count"] == 1:
            time.sleep(seconds)
        context.set_state({"count": context.state["count"] + 1})

    store = await backend.make()
    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    await asyncio.gather(bot.handle_request(HI), bot.handle_request(HI))
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 3}


async def _next_event_is_prompt(
    backend: Backend, bot: Bot, store: SessionStore, expected: int
) -> None:
    """The process that failed or cancelled an event goes on at once, not after a lock timeout:
    nothing holds the session, in this process or across processes, and the next event runs."""
    assert len(store.locks) == 0
    assert await backend.lock_is_free("console:1")
    await asyncio.wait_for(bot.handle_request(HI), 60)  # a hang guard only
    assert (await store.read("console:1"))["_state"] == {"count": expected}


async def test_a_failed_event_releases_its_session(backend: Backend) -> None:
    async def action(context: Any) -> None:
        if context.event.text == "fail":
            raise RuntimeError("the action failed")
        context.set_state({"count": context.state["count"] + 1})

    store = await backend.make()
    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    with pytest.raises(RuntimeError, match="the action failed"):
        await bot.handle_request({"message": {"text": "fail"}})
    await _next_event_is_prompt(backend, bot, store, 2)


async def test_an_event_cancelled_inside_its_action_releases_its_session(backend: Backend) -> None:
    inside = asyncio.Event()

    async def action(context: Any) -> None:
        if context.event.text == "slow":
            inside.set()
            await asyncio.Event().wait()  # until cancelled
        context.set_state({"count": context.state["count"] + 1})

    store = await backend.make()
    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    slow = asyncio.create_task(bot.handle_request({"message": {"text": "slow"}}))
    await asyncio.wait_for(inside.wait(), 60)  # the action runs, holding the session
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await _next_event_is_prompt(backend, bot, store, 2)


async def test_an_event_cancelled_while_waiting_for_its_session_leaves_no_trace(
    backend: Backend,
) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def action(context: Any) -> None:
        if context.event.text == "hold":
            holding.set()
            await release.wait()
        context.set_state({"count": context.state["count"] + 1})

    store = await backend.make()
    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    holder = asyncio.create_task(bot.handle_request({"message": {"text": "hold"}}))
    await asyncio.wait_for(holding.wait(), 60)
    queued = asyncio.create_task(bot.handle_request(HI))
    for _ in range(5):  # a few loop turns: it reaches the session's queue and waits there
        await asyncio.sleep(0)
    assert not queued.done()
    queued.cancel()  # queued behind the holder, then cancelled
    with pytest.raises(asyncio.CancelledError):
        await queued
    release.set()
    await holder
    await _next_event_is_prompt(backend, bot, store, 2)  # the cancelled event never ran


# -- invalid records (SPEC §3: a CorruptSessionError naming them, never reset) ----------------

NOT_A_RECORD = {
    "_state a list": {"_state": []},
    "_state a pair": {"_state": [1, 2]},
    "_state null": {"_state": None},
    "_state false": {"_state": False},
    "_state a string": {"_state": "abc"},
    "lastActivity a string": {"lastActivity": "yesterday"},
    "lastActivity null": {"lastActivity": None},
    "lastActivity true": {"lastActivity": True},
    "NaN in the state": {"_state": {"count": float("nan")}},
    "Infinity as lastActivity": {"lastActivity": float("inf")},
}


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
@pytest.mark.parametrize("change", NOT_A_RECORD.values(), ids=NOT_A_RECORD.keys())
async def test_an_invalid_record_is_an_error_naming_it_and_is_left_untouched(
    backend: Backend, change: dict[str, Any]
) -> None:
    await backend.raw_put("console:1", {**session("console:1", count=1), **change})
    stored = await backend.raw_get("console:1")
    store = await backend.make()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    with pytest.raises(CorruptSessionError, match="console:1"):
        await store.read("console:1")
    for _ in range(2):  # never reset and written back: the next event meets the same error
        with pytest.raises(CorruptSessionError, match="console:1"):
            await asyncio.wait_for(bot.handle_request(HI), 5)
    with pytest.raises(CorruptSessionError, match="console:1"):
        await store.all()
    assert await backend.raw_get("console:1") == stored or _same_nan_document(
        await backend.raw_get("console:1"), stored)


def _same_nan_document(now: Any, before: Any) -> bool:
    """NaN != NaN, so compare a document holding one through its JSON text."""
    return json.dumps(now, default=str) == json.dumps(before, default=str)


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_a_record_without_state_starts_from_initial_state(backend: Backend) -> None:
    """Bottender writes one when a request maps to no event; its Context reads initialState."""
    written = session("console:1")
    del written["_state"]
    written["page"] = {"id": "page-1"}
    await backend.raw_put("console:1", written)
    store = await backend.make()
    bot = Bot(counter, initial_state={"count": 10}, session_store=store)
    await bot.handle_request(HI)
    stored = await store.read("console:1")
    assert stored["_state"] == {"count": 11} and stored["page"] == {"id": "page-1"}


async def test_entries_list_every_stored_session_expired_or_not(backend: Backend) -> None:
    clock = FakeClock()
    store = await backend.make(expires_in=1, clock=clock)
    await store.write("console:1", session("console:1", count=1))
    await store.write("console:2", session("console:2", last_activity=0, count=2))  # expired
    entries = await store.entries()
    assert sorted(record["_state"]["count"] for _, record in entries) == [1, 2]
    assert all("console:" in where for where, _ in entries)


@pytest.mark.parametrize("backend", ["file", "mongo"], indirect=True)
async def test_entries_give_a_bad_entry_its_error_and_go_on(backend: Backend) -> None:
    await backend.raw_put("console:1", session("console:1", count=1))
    await backend.raw_put("console:2", {**session("console:2"), "_state": [1, 2]})
    store = await backend.make()
    entries = dict(await store.entries())
    assert len(entries) == 2
    good = [value for value in entries.values() if isinstance(value, dict)]
    bad = {where: value for where, value in entries.items() if not isinstance(value, dict)}
    assert good == [session("console:1", count=1)]
    [(where, error)] = bad.items()
    assert "console:2" in where and isinstance(error, CorruptSessionError)
    assert "console:2" in str(error)


@pytest.mark.parametrize("change", NOT_A_RECORD.values(), ids=NOT_A_RECORD.keys())
async def test_writing_what_is_not_a_record_raises_and_keeps_the_previous_one(
    backend: Backend, change: dict[str, Any]
) -> None:
    store = await backend.make()
    before = session("console:1", count=1)
    await store.write("console:1", before)
    with pytest.raises(StateError):
        await store.write("console:1", {**before, **change})
    assert await store.read("console:1") == before
# -- conversation history (SPEC §7) ----------------------------------------------------------

HISTORY_STORES = ["file", "redis", "redis-cluster"]  # shared by processes, with a lock


async def counting_bot(store: SessionStore, **options: Any) -> Bot:
    return Bot(counter, initial_state={"count": 0}, session_store=store, **options)


async def indexes(bot: Bot, session_id: str = "console:1") -> list[int]:
    return [turn.index for turn in await bot.history_async(session_id)]


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_history_survives_a_new_bot_over_the_same_storage(backend: Backend) -> None:
    bot = await counting_bot(await backend.make())
    for _ in range(3):
        await bot.handle_request(HI)
    again = await counting_bot(await backend.make())
    await again.handle_request(HI)
    turns = await again.history_async("console:1")
    assert [(t.index, t.state_before["count"], t.state["count"]) for t in turns] == [
        (0, 0, 1), (1, 1, 2), (2, 2, 3), (3, 3, 4),
    ]
    assert turns[0].raw == HI


async def test_history_is_capped_and_indexes_go_on(backend: Backend) -> None:
    store = await backend.make()
    bot = await counting_bot(store, history=3)
    for _ in range(50):
        await bot.handle_request(HI)
    assert await indexes(bot) == [47, 48, 49]
    assert [turn["index"] for turn in await store.turns("console:1")] == [47, 48, 49]
    assert [(await store.read("console:1"))["_state"]["count"]] == [50]


async def test_rewind_keeps_the_earlier_turns(backend: Backend) -> None:
    bot = await counting_bot(await backend.make())
    for _ in range(3):
        await bot.handle_request(HI)
    rewound = await bot.rewind_async("console:1", 0)
    assert (rewound.index, rewound.kind, dict(rewound.state)) == (3, "rewind", {"count": 1})
    await bot.handle_request(HI)
    turns = await bot.history_async("console:1")
    assert [(t.index, t.kind, t.state["count"]) for t in turns] == [
        (0, "event", 1), (1, "event", 2), (2, "event", 3), (3, "rewind", 1), (4, "event", 2),
    ]


async def test_fork_copies_and_onto_an_existing_id_fails(backend: Backend) -> None:
    store = await backend.make()
    bot = await counting_bot(store)
    for _ in range(3):
        await bot.handle_request(HI)
    await bot.handle_request({"message": {"text": "hi"}, "_user": "2"})
    assert await bot.fork_async("console:1", 1, to="alt") == "console:alt"
    assert await indexes(bot, "console:alt") == [0, 1, 2]
    assert (await store.read("console:alt"))["_state"] == {"count": 2}
    before = await indexes(bot, "console:2")
    with pytest.raises(HistoryError, match="already exists"):
        await bot.fork_async("console:1", 1, to="console:2")
    assert await indexes(bot, "console:2") == before
    assert (await store.read("console:2"))["_state"] == {"count": 1}
    assert await indexes(bot) == [0, 1, 2]  # the original is untouched


async def test_destroy_removes_the_history(backend: Backend) -> None:
    store = await backend.make()
    bot = await counting_bot(store)
    for _ in range(3):
        await bot.handle_request(HI)
    await bot.handle_request({"message": {"text": "hi"}, "_user": "2"})
    await store.destroy("console:1")
    assert await store.turns("console:1") == []
    assert await indexes(bot, "console:2") == [0]
    await bot.handle_request(HI)
    assert await indexes(bot) == [0]  # a new conversation, a new history


async def test_history_is_never_a_session(backend: Backend) -> None:
    store = await backend.make()
    bot = await counting_bot(store)
    for user in ("1", "2"):
        for _ in range(3):
            await bot.handle_request({"message": {"text": "hi"}, "_user": user})
    assert sorted(record["id"] for record in await store.all()) == ["console:1", "console:2"]
    if backend.kind == "file":  # Bottender's jfs reads <dirname>/*.json
        names = sorted(path.name for path in (backend.tmp_path / "sessions").glob("*.json"))
        assert names == ["console:1.json", "console:2.json"]
    elif backend.kind == "mongo":  # Bottender's MongoSessionStore reads its collection only
        assert sorted(doc["id"] for doc in backend.raw.find()) == ["console:1", "console:2"]
    elif backend.kind.startswith("redis"):  # Bottender's all(): SCAN every key, MGET them
        keys = [key async for key in backend.raw.scan_iter(count=1000)]
        values = [(await backend.raw.mget([key]))[0] for key in keys]
        turns = [value for value in values if value is not None and b'"kind"' in value]
        assert turns == [] and any(b"history" in key for key in keys)


async def test_turns_keep_what_json_carries_exactly(backend: Backend) -> None:
    bot = await counting_bot(await backend.make())
    raw = {"message": {"text": "hi \ud83d 😀"}, "big": 2**70}
    await bot.handle_event(raw)
    [turn] = await bot.history_async("console:1")
    assert turn.raw == raw and type(turn.raw["big"]) is int


async def test_an_event_json_cannot_carry_is_refused_before_it_runs(backend: Backend) -> None:
    store = await backend.make()
    ran: list[Any] = []

    async def action(context: Any) -> None:
        ran.append(context.event.text)
        context.set_state(count=context.state["count"] + 1)

    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    await bot.handle_event({"message": {"text": "hi"}})
    with pytest.raises(StateError, match=r"\['when'\] holds datetime"):
        await bot.handle_event({"message": {"text": "again"}, "when": dt.datetime(2024, 1, 1)})
    assert ran == ["hi"]
    assert (await store.read("console:1"))["_state"] == {"count": 1}
    assert await indexes(bot) == [0]
    no_history = Bot(action, initial_state={"count": 0}, session_store=store, history=0)
    await no_history.handle_event({"message": {"text": "kept"}, "when": dt.datetime(2024, 1, 1)})
    assert ran == ["hi", "kept"]  # nothing keeps the event: it runs


async def test_overlapping_events_get_indexes_in_order(backend: Backend) -> None:
    bot = await counting_bot(await backend.make())
    await asyncio.gather(*(bot.handle_request(HI) for _ in range(100)))
    turns = await bot.history_async("console:1")
    assert [(t.index, t.state["count"]) for t in turns] == [(n, n + 1) for n in range(100)]


@pytest.mark.parametrize("backend", HISTORY_STORES, indirect=True)
async def test_two_processes_append_to_one_history_and_lose_none(backend: Backend) -> None:
    import subprocess
    import sys
    import time

    helper = Path(__file__).parent / "helpers" / "append_turns.py"
    go = backend.tmp_path / "go"
    if backend.kind == "file":
        args = ["file", str(backend.tmp_path / "sessions")]
    else:
        args = ["redis", str(backend.server.port)]
    extra = ["cluster"] if backend.kind == "redis-cluster" else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    workers = [
        subprocess.Popen([sys.executable, str(helper), *args, "150", str(go), *extra], env=env)
        for _ in range(2)
    ]
    time.sleep(1.0)  # let both import and connect (the test's loop has nothing else to do)
    go.touch()
    assert [await asyncio.to_thread(worker.wait, 120) for worker in workers] == [0, 0]
    bot = await counting_bot(await backend.make())
    turns = await bot.history_async("console:1")
    assert [(t.index, t.state_before["count"], t.state["count"]) for t in turns] == [
        (n, n, n + 1) for n in range(300)
    ]
    # They raced: one process after the other would hand the session over once.
    pids = [t.state["pid"] for t in turns]
    assert len(set(pids)) == 2
    assert sum(a != b for a, b in zip(pids, pids[1:])) > 1


async def test_kept_turns_are_copies(backend: Backend) -> None:
    bot = await counting_bot(await backend.make())
    body = {"message": {"text": "hi"}, "extra": {"items": [1]}}
    turn = await bot.handle_event(body)
    body["extra"]["items"].append(2)  # the caller reuses its body
    turn.replies.append("not said")
    [kept] = await bot.history_async("console:1")
    kept.raw["extra"]["items"].append(3)
    [again] = await bot.history_async("console:1")
    assert again.raw == {"message": {"text": "hi"}, "extra": {"items": [1]}} and again.replies == []
