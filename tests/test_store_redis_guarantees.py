"""What the Redis store promises, tried as users meet it (issue 12), on real redis-server processes.

A blocking action; a store used before ``os.fork()``; a failed or cancelled event; a Redis
restart; a stored value that is not a session; a session id Redis cannot carry; one bad key
among many when listing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from bottender_nb import Bot, CorruptSessionError, RedisSessionStore, StoreError
from bottender_nb.errors import BottenderNbError
from bottender_nb.stores.redis_keys import lock_key
from servers import RedisServer
from test_store_redis import store  # noqa: F401 - the same fresh store on the run's server

HI = {"message": {"text": "hi"}}
REPO = Path(__file__).parent.parent


async def counter(context: Any) -> None:
    current = context.state["count"]
    await asyncio.sleep(0)
    context.set_state({"count": current + 1})


async def count_of(store: RedisSessionStore, session_id: str = "console:1") -> int:
    record = await store.read(session_id)
    return 0 if record is None else record["_state"]["count"]

async def next_event_is_not_held_up(bot: Bot, redis_server: Any = None) -> None:
    """The next event of console:1 runs at once: no lock is left behind for ``lock_timeout``
    to clear (seen on the server), and the event itself ends (60 s: a hang guard only, with
    the stores here given a lock_timeout far beyond it where the lock may exist)."""
    if redis_server is not None:
        assert redis_server.command("EXISTS", lock_key("console:1")) == "0"
    await asyncio.wait_for(bot.handle_request(HI), 60)


async def until_waiting(task: asyncio.Task) -> None:
    """A few loop turns: ``task`` has sent its request and waits on the server or a lock."""
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()



# -- 1. a blocking action shorter than lock_timeout loses nothing ------------------------------


@pytest.mark.parametrize("seconds", [0.5, 2])
@pytest.mark.parametrize("kind", ["redis", "redis-cluster"])
async def test_a_blocking_action_in_back_to_back_events_loses_nothing(
    request: pytest.FixtureRequest, kind: str, seconds: float
) -> None:
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        server.command("FLUSHALL")
    else:
        server = request.getfixturevalue("redis_cluster")
        server.flush()

    async def action(context: Any) -> None:
        current = context.state["count"]
        if context.event.text == "slow":
            time.sleep(seconds)  # a synchronous HTTP call or SDK call, in a notebook
        context.set_state({"count": current + 1})

    store = await RedisSessionStore(port=server.port, cluster=kind != "redis").init()
    try:
        bot = Bot(action, initial_state={"count": 0}, session_store=store)
        await asyncio.gather(bot.handle_request(HI), bot.handle_request({"message": {"text": "slow"}}))
        await bot.handle_request({"message": {"text": "slow"}})
        assert await count_of(store) == 3
    finally:
        await store.close()


async def test_two_bots_sharing_one_store_lose_nothing(store: RedisSessionStore) -> None:
    bots = [Bot(counter, initial_state={"count": 0}, session_store=store) for _ in range(2)]
    await asyncio.gather(*(bots[n % 2].handle_request(HI) for n in range(200)))
    assert await count_of(store) == 200


# -- 2. a store used before os.fork() --------------------------------------------------------------

FORK = """
import asyncio, os, sys
from bottender_nb import Bot, RedisSessionStore

async def count(context):
    state = context.state
    await asyncio.sleep(0)
    context.set_state({"count": state["count"] + 1})

store = RedisSessionStore(port=int(sys.argv[1]))
bot = Bot(count, initial_state={"count": 0}, session_store=store)

async def events(n):
    for _ in range(n):
        await bot.handle_request({"message": {"text": "hi"}})

asyncio.run(events(1))  # used before the fork: the pool holds an open connection
child = os.fork()
try:
    asyncio.run(events(300))
    status = 0
except BaseException as exc:
    print(f"{os.getpid()}: {type(exc).__name__}: {exc}", flush=True)
    status = 1
if child == 0:
    os._exit(status)
_, child_status = os.waitpid(child, 0)

async def result():
    print((await store.read("console:1"))["_state"]["count"], status, child_status)
    await store.close()

asyncio.run(result())
"""


async def test_a_store_used_before_fork_loses_nothing_in_parent_and_child(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORK), str(redis_server.port)],
        capture_output=True, text=True, timeout=180, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["601", "0", "0"], result.stdout + result.stderr


# -- 3. a failed or cancelled event releases its lock --------------------------------------------

BUSY = """
local start = redis.call('TIME')
repeat
  local now = redis.call('TIME')
until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 600000
return 1
"""


async def test_a_failed_event_leaves_the_session_free_for_other_processes(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    async def failing(context: Any) -> None:
        raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        await Bot(failing, session_store=store).handle_request(HI)
    other = await RedisSessionStore(port=redis_server.port).init()  # another process's store
    try:
        await next_event_is_not_held_up(Bot(counter, initial_state={"count": 0}, session_store=other),
                                        redis_server)
        assert await count_of(other) == 1
    finally:
        await other.close()


async def test_an_event_cancelled_during_acquire_does_not_hold_up_the_next(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    busy = asyncio.ensure_future(asyncio.to_thread(redis_server.command, "EVAL", BUSY, "0"))
    await asyncio.sleep(0.05)  # Redis is busy for 0.6 s: the event's lock is taken late
    event = asyncio.ensure_future(bot.handle_request(HI))
    await until_waiting(event)
    event.cancel()  # while its acquire waits on the busy server
    with pytest.raises(asyncio.CancelledError):
        await event
    await busy
    await next_event_is_not_held_up(bot, redis_server)
    assert await count_of(store) == 1  # the cancelled event wrote nothing


async def test_an_event_cancelled_while_waiting_for_the_lock_does_not_hold_up_the_next(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    other = await RedisSessionStore(port=redis_server.port).init()
    try:
        async with other.lock("console:1"):  # another process handles an event meanwhile
            event = asyncio.ensure_future(bot.handle_request(HI))
            await until_waiting(event)
            event.cancel()
            with pytest.raises(asyncio.CancelledError):
                await event
        await next_event_is_not_held_up(bot, redis_server)
        assert await count_of(store) == 1
    finally:
        await other.close()


async def test_an_event_cancelled_behind_another_bots_event_does_not_hold_up_the_next(
    store: RedisSessionStore,
) -> None:
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow(context: Any) -> None:
        started.set()
        await finish.wait()
        await counter(context)

    first = Bot(slow, initial_state={"count": 0}, session_store=store)
    second = Bot(counter, initial_state={"count": 0}, session_store=store)  # one store, two bots
    slow_event = asyncio.ensure_future(first.handle_request(HI))
    await asyncio.wait_for(started.wait(), 60)
    queued = asyncio.ensure_future(second.handle_request(HI))
    await until_waiting(queued)  # behind first's event
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    finish.set()
    await asyncio.wait_for(second.handle_request(HI), 60)  # a hang guard only
    await slow_event
    assert await count_of(store) == 2 and len(store.locks) == 0


# -- 4. Redis restarted -------------------------------------------------------------------------


async def test_a_redis_restart_with_aof_between_events(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persistent=True).start()
    store = await RedisSessionStore(port=server.port, lock_timeout=600).init()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    try:
        await bot.handle_request(HI)
        server.stop()
        server = RedisServer(tmp_path / "redis", port=server.port, persistent=True).start()
        await next_event_is_not_held_up(bot, server)
        assert await count_of(store) == 2
    finally:
        await store.close()
        server.stop()


async def test_redis_down_during_an_event_then_back_with_aof(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persistent=True).start()

    async def stops_redis(context: Any) -> None:
        if context.event.text == "stop":
            server.stop()  # the lock this event took is saved in the AOF
        await counter(context)

    store = await RedisSessionStore(port=server.port, lock_timeout=600).init()
    bot = Bot(stops_redis, initial_state={"count": 0}, session_store=store)
    try:
        await bot.handle_request(HI)
        with pytest.raises(StoreError, match="Cannot reach Redis.*redis-server running"):
            await bot.handle_request({"message": {"text": "stop"}})
        server = RedisServer(tmp_path / "redis", port=server.port, persistent=True).start()
        assert server.command("EXISTS", lock_key("console:1")) == "1"  # kept by the AOF
        # its own leftover lock is taken over, not waited for (600 s) past the hang guard
        await next_event_is_not_held_up(bot)
        assert await count_of(store) == 2
    finally:
        await store.close()
        server.stop()


async def test_a_restart_without_persistence_mid_event_names_the_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()

    async def restarts_redis(context: Any) -> None:
        nonlocal server
        server.stop()  # the lock this event took is gone with the data
        server = RedisServer(tmp_path / "redis", port=server.port).start()
        await counter(context)

    store = await RedisSessionStore(port=server.port).init()
    try:
        with pytest.raises(StoreError, match="lost before its write.*restart") as caught:
            await Bot(restarts_redis, initial_state={"count": 0}, session_store=store).handle_request(HI)
        assert "blocked" not in str(caught.value)
        assert await store.read("console:1") is None
    finally:
        await store.close()
        server.stop()


async def test_redis_loading_its_data_says_so() -> None:
    async def loading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):  # what redis-server answers while it loads the AOF
            writer.write(b"-LOADING Redis is loading the dataset in memory\r\n")
        writer.close()

    server = await asyncio.start_server(loading, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisSessionStore(port=port)
    try:
        with pytest.raises(StoreError, match="still loading its data") as caught:
            await Bot(counter, initial_state={"count": 0}, session_store=store).handle_request(HI)
        assert "redis-server running" not in str(caught.value)
    finally:
        await store.close()
        server.close()


# -- 5. a stored value that is not a session ------------------------------------------------------
# The store hands every stored value to record.loads; the NaN/Infinity, `_state` and
# `lastActivity` cases pass once loads checks the record's shape (issue 12, the record's branch).


@pytest.mark.parametrize("value", [
    "{not json",
    "NaN",
    '{"id":"console:1","_state":{"count":NaN},"lastActivity":1}',
    '{"id":"console:1","_state":{"count":1},"lastActivity":Infinity}',
    "[1, 2]",
    '"a string"',
    '{"id":"console:1","_state":[1,2],"lastActivity":1}',
    '{"id":"console:1","_state":null,"lastActivity":1}',
    '{"id":"console:1","_state":{"count":1},"lastActivity":"yesterday"}',
])
async def test_a_stored_value_that_is_not_a_session_is_named_and_kept(
    store: RedisSessionStore, redis_server: RedisServer, value: str
) -> None:
    redis_server.command("SET", "console:1", value)
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    with pytest.raises(CorruptSessionError, match="'console:1'"):
        await bot.handle_request(HI)
    with pytest.raises(CorruptSessionError, match="'console:1'"):
        await store.read("console:1")
    assert redis_server.command("GET", "console:1") == value  # never reset or rewritten
    await Bot(counter, initial_state={"count": 0}, session_store=store).handle_request(
        {"sender": {"id": "2"}}, "messenger"
    )
    assert await count_of(store, "messenger:2") == 1  # other sessions carry on


# -- 6. a session id Redis cannot carry ------------------------------------------------------------


async def test_a_session_id_with_a_lone_surrogate_is_a_clear_error(store: RedisSessionStore) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    with pytest.raises(BottenderNbError, match=r"'messenger:\\udc80'"):
        await bot.handle_request({"sender": {"id": "\udc80"}, "message": {"text": "hi"}}, "messenger")
    with pytest.raises(BottenderNbError, match="surrogate"):
        await store.read("console:\udc80")
    await bot.handle_request(HI)  # the store still works
    assert await count_of(store) == 1


# -- 7. one bad key among many ---------------------------------------------------------------------


async def test_one_bad_key_among_100_is_named_and_the_rest_load(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port, prefix="bot:").init()
    try:
        bot = Bot(counter, initial_state={"count": 0}, session_store=store)
        await asyncio.gather(*(
            bot.handle_request({"sender": {"id": str(n)}}, "messenger") for n in range(99)
        ))
        redis_server.command("SET", "bot:messenger:bad", "{truncated")
        with pytest.raises(CorruptSessionError, match="'bot:messenger:bad'"):
            await store.all()
        entries = dict(await store.entries())
        assert len(entries) == 100
        assert isinstance(entries.pop("bot:messenger:bad"), CorruptSessionError)
        assert {where: record["_state"] for where, record in entries.items()} == {
            f"bot:messenger:{n}": {"count": 1} for n in range(99)
        }
    finally:
        await store.close()
