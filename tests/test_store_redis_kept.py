"""A busy session's lock kept across back-to-back events (stores/kept.py), on a real redis-server.

What users would notice if it went wrong: another process kept waiting while this one is busy
or idle, a stale value after the lock was lost or another process wrote, a lock left behind by
``asyncio.run``, ``bot.say`` or the console, more events at once than the pool has connections.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import redis

from bottender_nb import Bot, RedisSessionStore
from bottender_nb.record import dumps_utf8
from bottender_nb.stores.redis_keys import lock_key
from servers import RedisServer
from test_store_redis import store  # noqa: F401 - the same fresh store on the run's server

HI = {"message": {"text": "hi"}}
REPO = Path(__file__).parent.parent
LOCK = lock_key("console:1")


async def counter(context: Any) -> None:
    context.set_state({"count": context.state["count"] + 1})


async def count_of(store: RedisSessionStore, session_id: str = "console:1") -> int:
    record = await store.read(session_id)
    return 0 if record is None else record["_state"]["count"]


async def test_back_to_back_events_keep_the_lock_until_the_loop_turns(
    store: RedisSessionStore, redis_server: RedisServer,
) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    for _ in range(3):
        await bot.handle_request(HI)
    assert redis_server.command("EXISTS", LOCK) == "1"  # kept for a next event
    started = time.monotonic()  # the loop turns with no event of the session: let go
    while redis_server.command("EXISTS", LOCK) == "1" and time.monotonic() - started < 5:
        await asyncio.sleep(0.001)
    assert time.monotonic() - started < 0.5  # not lock_timeout (10 s)
    assert await count_of(store) == 3


async def test_a_session_that_is_not_busy_releases_in_its_write(
    store: RedisSessionStore, redis_server: RedisServer,
) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    assert redis_server.command("EXISTS", LOCK) == "0"
    await asyncio.sleep(0.1)  # a person typing
    await bot.handle_request(HI)
    assert redis_server.command("EXISTS", LOCK) == "0"


async def test_another_process_waiting_gets_a_busy_session_at_its_next_write(
    store: RedisSessionStore, redis_server: RedisServer,
) -> None:
    """A process sending events back to back for seconds does not keep a waiter out."""
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    other = await RedisSessionStore(port=redis_server.port).init()  # another process's store
    stop = asyncio.Event()

    async def busy() -> None:
        while not stop.is_set():
            await bot.handle_request(HI)

    sender = asyncio.ensure_future(busy())
    asyncio.get_running_loop().call_later(3, stop.set)  # a test that fails, fails in 3 s
    try:
        await asyncio.sleep(0.2)
        started = time.monotonic()
        async with other.lock("console:1"):
            waited = time.monotonic() - started
        assert waited < 1.0, f"waited {waited:.2f}s for a session another process kept busy"
    finally:
        stop.set()
        await sender
        await other.close()


async def test_a_loop_blocked_past_a_third_of_lock_timeout_takes_the_lock_afresh(
    redis_server: RedisServer,
) -> None:
    """While this loop is blocked, its kept lock expires, and another process takes the
    session and writes: the next event starts from that write, not from the kept value."""
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port, lock_timeout=0.3).init()
    try:
        bot = Bot(counter, initial_state={"count": 0}, session_store=store)
        for _ in range(3):
            await bot.handle_request(HI)
        time.sleep(0.4)  # blocked: no loop pass, the kept lock expires on the server
        other = redis.Redis(port=redis_server.port)  # another process, synchronous
        assert other.set(LOCK, "another-owner", nx=True, px=5000)
        other.set("console:1", dumps_utf8({"id": "console:1", "platform": "console",
                                           "_state": {"count": 100}}))
        other.delete(LOCK)
        await bot.handle_request(HI)
        assert await count_of(store) == 101
    finally:
        await store.close()


async def test_asyncio_run_lets_go_of_a_kept_lock_when_it_ends(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    script = textwrap.dedent("""
        import asyncio, sys
        from bottender_nb import Bot, RedisSessionStore

        async def count(context):
            context.set_state({"count": context.state["count"] + 1})

        bot = Bot(count, initial_state={"count": 0},
                  session_store=RedisSessionStore(port=int(sys.argv[1]), lock_timeout=600))

        async def main():
            for _ in range(5):
                await bot.handle_request({"message": {"text": "hi"}})

        asyncio.run(main())
        print("ran", flush=True)  # the loop ended right after a busy session's last event
        sys.stdin.readline()
        bot.say("one")
        bot.say("two")  # run_sync, then the caller blocks: nothing may stay kept
        print("said", flush=True)
        sys.stdin.readline()
    """)
    process = subprocess.Popen([sys.executable, "-c", script, str(redis_server.port)], cwd=REPO,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdin is not None and process.stdout is not None
        assert process.stdout.readline() == "ran\n"
        assert redis_server.command("EXISTS", LOCK) == "0"  # not held for lock_timeout=600
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline() == "said\n"
        assert redis_server.command("EXISTS", LOCK) == "0"
        assert redis_server.command("GET", "console:1").count('"count":7') == 1
    finally:
        process.kill()
        process.wait()


async def test_more_conversations_at_once_than_the_pool_has_connections(
    store: RedisSessionStore,
) -> None:
    """redis-py's pool has 100 connections; event 101 waits for one instead of failing."""
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)

    async def conversation(user: int) -> None:
        for _ in range(3):
            await bot.handle_request({"sender": {"id": str(user)}, "message": {"text": "hi"}},
                                     "messenger")

    await asyncio.gather(*(conversation(user) for user in range(150)))
    counts = [record["_state"]["count"] for record in await store.all()]
    assert counts == [3] * 150


async def test_a_write_sent_again_after_its_reply_was_lost_lands_once(
    store: RedisSessionStore, monkeypatch: Any,
) -> None:
    """redis-py sends a call again when its connection drops before the reply: the session's
    write had landed, so the second run must say so, and write neither session nor turn again."""
    from redis.asyncio.connection import Connection

    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    read_response, lost = Connection.read_response, []

    async def reply_lost_once(self: Connection, *args: Any, **kwargs: Any) -> Any:
        reply = await read_response(self, *args, **kwargs)
        if not lost and isinstance(reply, list) and len(reply) == 3:  # the write's {1, index, kept}
            lost.append(reply)
            await self.disconnect()
            raise redis.exceptions.ConnectionError("the reply was lost")
        return reply

    monkeypatch.setattr(Connection, "read_response", reply_lost_once)
    for _ in range(2):
        await bot.handle_request(HI)
    assert lost  # the first of them was sent twice
    assert await count_of(store) == 3
    assert [turn["index"] for turn in await store.history.read("console:1")] == [0, 1, 2]
