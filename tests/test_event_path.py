"""The one path every change takes, as users meet it: what the caller is told is what happened.

An event that returns was stored whole (its session and its turn); one that raises left both as
they were; one cancelled while it waits for its session never runs. Each test drives a real part:
a Redis server (behind a proxy that drops connections), a full tmpfs, a lock taken away.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bottender_nb import (Bot, FileSessionStore, MemorySessionStore, RedisSessionStore, StateError,
                          StoreError)
from bottender_nb.stores.redis_keys import HISTORY, NEXT, WRITE, lock_key
from servers import RedisServer

HI = {"message": {"text": "hi"}}


async def count(context: Any) -> None:
    state = context.state
    await asyncio.sleep(0)
    context.set_state({"count": state.get("count", 0) + 1})


# -- cancelled while waiting: never runs -----------------------------------------------------------


async def cancel_rounds(bot: Bot, other: Any, rounds: int) -> list[Any]:
    """Another owner holds console:1 while three events of ``bot`` time out waiting for it."""
    outcomes: list[Any] = []
    for _ in range(rounds):
        async with other.lock("console:1"):
            calls = [asyncio.ensure_future(asyncio.wait_for(bot.handle_request(HI), 0.1 + 0.05 * i))
                     for i in range(3)]
            await asyncio.sleep(1.0)
            outcomes += [call.done() for call in calls]  # all timed out while it was held
        outcomes += await asyncio.gather(*calls, return_exceptions=True)
    return outcomes


async def test_a_cancelled_redis_event_never_runs(redis_server: RedisServer) -> None:
    """redis-py's retry may catch the cancellation of a call in flight: it must not run anyway."""
    redis_server.command("FLUSHALL")
    ran: list[str] = []

    async def action(context: Any) -> None:
        ran.append(context.event.text)

    store = await RedisSessionStore(port=redis_server.port).init()
    other = await RedisSessionStore(port=redis_server.port).init()  # another owner, as a process
    try:
        outcomes = await cancel_rounds(Bot(action, session_store=store), other, 25)
        assert outcomes.count(True) == 75  # each call had its answer while the session was held
        assert [type(outcome) for outcome in outcomes if outcome is not True] == [TimeoutError] * 75
        assert ran == [] and await store.read("console:1") is None
        assert await store.turns("console:1") == []
    finally:
        await store.close()
        await other.close()


async def test_a_cancelled_file_event_never_runs(tmp_path: Path) -> None:
    ran: list[str] = []

    async def action(context: Any) -> None:
        ran.append(context.event.text)

    bot = Bot(action, session_store=FileSessionStore(tmp_path))
    outcomes = await cancel_rounds(bot, FileSessionStore(tmp_path), 3)
    assert outcomes.count(True) == 9 and outcomes.count(False) == 0
    assert ran == [] and not (tmp_path / "console:1.json").exists()


# -- a write reported as refused was never applied -------------------------------------------------


class DroppingProxy:
    """A TCP proxy in front of Redis that, after every ``every``-th write script has reached the
    server, closes the client's connection before the server's reply gets back."""

    def __init__(self, port: int, every: int = 5) -> None:
        self.upstream, self.every = port, every
        self.sha = hashlib.sha1(WRITE.encode()).hexdigest().encode()
        self.writes = self.dropped = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.upstream)
        drop = asyncio.Event()  # set: the next reply is the dropped write's
        back = asyncio.ensure_future(self._back(server_in, client_out, drop))
        try:
            while not back.done() and (data := await client_in.read(65536)):
                if self.sha in data:
                    self.writes += 1
                    if self.writes % self.every == 0:
                        drop.set()
                server_out.write(data)
                await server_out.drain()
        finally:
            await asyncio.wait([back], timeout=5)
            back.cancel()
            client_out.close()
            server_out.close()

    async def _back(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    drop: asyncio.Event) -> None:
        while data := await reader.read(65536):
            if drop.is_set():  # the server ran the script and answered: the client never hears
                self.dropped += 1
                writer.close()
                return
            writer.write(data)
            await writer.drain()


async def test_a_write_whose_reply_was_lost_is_reported_as_what_happened(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    proxy = DroppingProxy(redis_server.port)
    store = await RedisSessionStore(port=await proxy.start()).init()
    bot = Bot(count, session_store=store)
    try:
        for n in range(40):
            before = await store.read("console:1")
            turns_before = await store.turns("console:1")
            try:
                await bot.handle_request(HI)
            except StoreError:  # then nothing changed
                assert await store.read("console:1") == before
                assert await store.turns("console:1") == turns_before
            else:  # stored once: the count moved by one, one turn more
                assert (await store.read("console:1"))["_state"]["count"] == n + 1
                assert len(await store.turns("console:1")) == len(turns_before) + 1
        assert proxy.dropped >= 8  # every 5th write script, retries included
        turns = await store.turns("console:1")
        assert [turn["index"] for turn in turns] == list(range(40))
        assert [turn["state"]["count"] for turn in turns] == list(range(1, 41))
    finally:
        await store.close()
        proxy.server.close()


# -- a write that fails keeps no turn --------------------------------------------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> AsyncIterator[Path]:
    """A tmpfs with few inodes: appending to a history file needs none, a new session file one."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=16", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"this test mounts a tmpfs and needs root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_inodes(directory: Path) -> list[Path]:
    fillers = []
    for n in range(100):
        try:
            (directory / f"filler{n}").touch()
        except OSError:
            return fillers
        fillers.append(directory / f"filler{n}")
    raise AssertionError("the tmpfs never filled up")


async def test_a_session_write_that_fails_keeps_no_turn_file(tiny_tmpfs: Path) -> None:
    store = FileSessionStore(tiny_tmpfs / "sessions")
    bot = Bot(count, session_store=store)
    bot.say("one")
    fillers = fill_inodes(tiny_tmpfs)
    with pytest.raises(StoreError, match="No space left|unchanged"):
        bot.say("two")  # the history append fits, the new session file does not
    assert [turn.text for turn in bot.history("console:1")] == ["one"]
    assert (await store.read("console:1"))["_state"] == {"count": 1}
    fillers[0].unlink()
    bot.say("three")
    assert [(turn.index, turn.text) for turn in bot.history("console:1")] == [(0, "one"), (1, "three")]


async def test_a_session_write_refused_for_a_lost_lock_keeps_no_turn(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port).init()

    async def lose_the_lock(context: Any) -> None:
        await count(context)
        if context.event.text == "lose":
            redis_server.command("DEL", lock_key("console:1"))  # a FLUSHALL, an eviction...

    bot = Bot(lose_the_lock, session_store=store)
    try:
        await bot.handle_request(HI)
        with pytest.raises(StoreError, match="lost before its write"):
            await bot.handle_request({"message": {"text": "lose"}})
        assert [turn["text"] for turn in await store.turns("console:1")] == ["hi"]
        assert (await store.read("console:1"))["_state"] == {"count": 1}
    finally:
        await store.close()


async def test_a_memory_write_refused_keeps_no_turn() -> None:
    async def bad(context: Any) -> None:
        await count(context)
        if context.event.text == "bad":
            context._state = context._state | {"x": float("nan")}  # past set_state's check

    store = MemorySessionStore()
    bot = Bot(bad, session_store=store)
    await bot.handle_request(HI)
    with pytest.raises(StateError, match="'x' holds the float nan"):
        await bot.handle_request({"message": {"text": "bad"}})
    assert [turn["text"] for turn in await store.turns("console:1")] == ["hi"]
    await bot.handle_request(HI)
    assert [turn["index"] for turn in await store.turns("console:1")] == [0, 1]


# -- histories go with their sessions --------------------------------------------------------------


async def test_a_redis_history_expires_with_its_session(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port, expires_in=1 / 60).init()  # 1 s
    try:
        await Bot(count, session_store=store).handle_request(HI)
        keys = [lock_key("console:1", HISTORY), lock_key("console:1", NEXT)]
        assert all(redis_server.command("EXISTS", key) == "1" for key in keys)
        assert [redis_server.command("TTL", key) for key in keys] == [redis_server.command(
            "TTL", "console:1")] * 2
        for _ in range(300):  # a hang guard: Redis expires keys within a second or two
            if redis_server.command("EXISTS", "console:1") == "0":
                break
            await asyncio.sleep(0.1)
        assert [redis_server.command("EXISTS", key) for key in ["console:1", *keys]] == ["0"] * 3
    finally:
        await store.close()


async def test_purge_expired_removes_the_histories_it_purges(tmp_path: Path) -> None:
    clock = [1_700_000_000.0]
    store = FileSessionStore(tmp_path, expires_in=1, clock=lambda: clock[0])
    bot = Bot(count, session_store=store, clock=lambda: clock[0])
    bot.say("old", user="old")
    clock[0] += 120
    bot.say("new", user="new")
    assert await store.purge_expired() == 1
    assert sorted(os.listdir(tmp_path / ".history")) == ["console:new.jsonl"]
    assert bot.history("console:old") == []


# -- disk errors say what to do --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["under-a-file", "/proc/sessions"])
async def test_a_session_directory_that_cannot_be_made_is_a_store_error(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "a-file").write_text("")
    dirname = tmp_path / "a-file" / "sessions" if where == "under-a-file" else Path(where)
    bot = Bot(count, session_store=FileSessionStore(dirname))
    with pytest.raises(StoreError, match=rf"Cannot create the session lock directory {dirname}"):
        bot.say("hi")


async def test_mongo_purge_expired_removes_the_histories_it_purges() -> None:
    """On mongomock (no MongoDB server can be had here)."""
    import mongomock

    from bottender_nb import MongoSessionStore
    from servers import AsyncMongomockCollection

    database = mongomock.MongoClient()["bottender"]
    clock = [1_700_000_000.0]
    store = MongoSessionStore(collection=AsyncMongomockCollection(database["sessions"]),
                              expires_in=1, clock=lambda: clock[0])
    bot = Bot(count, session_store=store, clock=lambda: clock[0])
    bot.say("old", user="old")
    clock[0] += 120
    bot.say("new", user="new")
    assert await store.purge_expired() == 1
    assert sorted(database["sessions_history"].distinct("session_id")) == ["console:new"]
    assert [document["id"] for document in database["sessions"].find()] == ["console:new"]
