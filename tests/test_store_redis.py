"""RedisSessionStore beyond the conformance suite, on real redis-server processes.

Prefix-scoped listing, lock keys in the session's cluster slot, the lock (expiry, owner,
renewal), several OS processes on one session, Redis down and restarted, the extra.
(Issue 12's guarantees, as users meet them: test_store_redis_guarantees.py.)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from bottender_nb import Bot, CorruptSessionError, RedisSessionStore, StoreError
from bottender_nb.stores.redis_keys import glob_escape, is_lock_key, lock_key
from servers import RedisServer, free_port

HI = {"message": {"text": "hi"}}
REPO = Path(__file__).parent.parent


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisSessionStore]:
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port).init()
    yield store
    await store.close()


async def counter(context: Any) -> None:
    current = context.state["count"]
    await asyncio.sleep(0)
    context.set_state({"count": current + 1})


def record(session_id: str, **state: Any) -> dict[str, Any]:
    return {"id": session_id, "platform": session_id.split(":")[0], "_state": state,
            "lastActivity": 1_700_000_000_000}


def run_python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


# -- keys --------------------------------------------------------------------------------------


async def test_key_is_prefix_plus_session_id(redis_server: RedisServer) -> None:
    store = await RedisSessionStore(port=redis_server.port, prefix="bot:").init()
    try:
        await store.write("console:1", record("console:1", count=1))
        assert redis_server.command("GET", "bot:console:1") == (
            '{"id":"console:1","platform":"console","_state":{"count":1},'
            '"lastActivity":1700000000000}'
        )
    finally:
        await store.close()


async def test_all_lists_only_this_prefix_and_never_lock_keys(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    redis_server.command("SET", "other-app:key", "not a session")
    stores = {
        prefix: await RedisSessionStore(port=redis_server.port, prefix=prefix).init()
        for prefix in ("a:", "a*", "[ab]", "")
    }
    try:
        for prefix, store in stores.items():
            if prefix:
                await store.write("console:1", record("console:1", prefix=prefix))
        async with stores["a:"].lock("console:1"):  # a lock key exists while listing
            for prefix in ("a:", "a*", "[ab]"):
                assert [r["_state"] for r in await stores[prefix].all()] == [{"prefix": prefix}]
        redis_server.command("DEL", "other-app:key")
        assert len(await stores[""].all()) == 3  # every session, no lock key
    finally:
        for store in stores.values():
            await store.close()


def test_glob_escape() -> None:
    assert glob_escape("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"


@pytest.mark.parametrize("key", [
    "console:1", "{bot}:console:1", "a{b}c", "x}y", "a{}b{c}", "}{", "{", "{}", "line:{U1}",
    "slack:T1}", "",
])
def test_lock_key_shares_the_session_keys_cluster_slot(key: str) -> None:
    lock = lock_key(key)
    assert key_slot(lock.encode()) == key_slot(key.encode())
    assert is_lock_key(lock) and not is_lock_key(key)


@given(st.text(max_size=40))
def test_lock_key_slot_for_any_key(key: str) -> None:
    lock = lock_key(key)
    assert key_slot(lock.encode()) == key_slot(key.encode())
    assert is_lock_key(lock)
    assert lock_key(lock) != lock


async def test_cluster_sessions_with_braces_in_their_ids(redis_cluster: Any) -> None:
    redis_cluster.flush()
    store = await RedisSessionStore(port=redis_cluster.port, cluster=True, prefix="{bot}:").init()
    odd = RedisSessionStore(port=redis_cluster.port, cluster=True)
    try:
        bot = Bot(counter, initial_state={"count": 0}, session_store=store)
        odd_bot = Bot(counter, initial_state={"count": 0}, session_store=odd)
        users = ["x}y", "a{b}c", "{}", "plain"]
        bodies = [{"sender": {"id": user}, "message": {"text": "hi"}} for user in users]
        for runner in (bot, odd_bot):
            await asyncio.gather(*(runner.handle_request(b, "messenger") for b in bodies * 10))
        for listed in (await store.all(), await odd.all()):
            assert {r["id"]: r["_state"]["count"] for r in listed} == {
                f"messenger:{user}": 10 for user in users
            }
    finally:
        await store.close()
        await odd.close()


# -- the lock ----------------------------------------------------------------------------------


async def test_waits_for_another_owners_lock_until_it_expires(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    lock = lock_key("console:1")
    redis_server.command("SET", lock, "someone-else", "PX", "600000")
    taken = asyncio.Event()

    def scripts_run() -> int:
        stats = redis_server.command("INFO", "commandstats")
        return sum(int(line.split("calls=")[1].split(",")[0]) for line in stats.splitlines()
                   if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")))

    async def take() -> None:
        async with store.lock("console:1"):
            taken.set()
            assert redis_server.command("GET", lock) != "someone-else"

    before = scripts_run()
    task = asyncio.create_task(take())

    async def tried_twice() -> None:
        while scripts_run() < before + 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(tried_twice(), 60)
    assert not taken.is_set() and redis_server.command("GET", lock) == "someone-else"
    redis_server.command("PEXPIRE", lock, "1")  # the other owner's lock expires now
    await asyncio.wait_for(task, 60)  # and then it is taken (a hang guard only)
    assert taken.is_set()


async def test_a_lock_is_released_only_by_its_owner(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    await store.write("console:1", record("console:1", count=1))
    lock = lock_key("console:1")
    with pytest.raises(StoreError, match="lost before its write.*another client"):
        async with store.hold("console:1") as held:
            redis_server.command("SET", lock, "someone-else", "PX", "60000")  # ours was lost
            await held.commit(record("console:1", count=2))
    await asyncio.sleep(0.05)
    assert redis_server.command("GET", lock) == "someone-else"  # not deleted by us
    assert (await store.read("console:1"))["_state"] == {"count": 1}  # write refused
    redis_server.command("DEL", lock)


@pytest.mark.parametrize("after_a_fast_event", [False, True])
async def test_a_slow_action_keeps_its_lock(
    redis_server: RedisServer, after_a_fast_event: bool
) -> None:
    redis_server.command("FLUSHALL")

    async def action(context: Any) -> None:
        current = context.state["count"]
        if context.event.text == "slow":
            await asyncio.sleep(1.2)  # four lock timeouts: renewed meanwhile
        context.set_state({"count": current + 1})

    first = await RedisSessionStore(port=redis_server.port, lock_timeout=0.3).init()
    second = await RedisSessionStore(port=redis_server.port, lock_timeout=0.3).init()
    try:
        slow_bot = Bot(action, initial_state={"count": 0}, session_store=first)
        other_bot = Bot(counter, initial_state={"count": 0}, session_store=second)
        if after_a_fast_event:
            await slow_bot.handle_request(HI)
        slow_event = asyncio.ensure_future(slow_bot.handle_request({"message": {"text": "slow"}}))
        await asyncio.sleep(0.1)
        await other_bot.handle_request(HI)  # waits for the slow event's lock
        assert slow_event.done()
        assert (await first.read("console:1"))["_state"] == {"count": 2 + after_a_fast_event}
    finally:
        await first.close()
        await second.close()


async def test_a_stopped_loop_holds_the_session_only_briefly(redis_server: RedisServer) -> None:
    """Console mode runs the loop per line: between lines its lease must not block others."""
    redis_server.command("FLUSHALL")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import asyncio, sys, time
            from bottender_nb import Bot, RedisSessionStore

            async def count(context):
                context.set_state({"count": context.state["count"] + 1})

            loop = asyncio.new_event_loop()
            store = RedisSessionStore(port=int(sys.argv[1]))
            bot = Bot(count, initial_state={"count": 0}, session_store=store)
            loop.run_until_complete(bot.handle_request({"message": {"text": "hi"}}))
            print("handled", flush=True)
            time.sleep(10)  # the loop is stopped, as while the console waits for input
        """), str(redis_server.port)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "handled\n"
        # no lock outlives its event, though the holder's loop is stopped
        assert redis_server.command("EXISTS", lock_key("console:1")) == "0"
        store = await RedisSessionStore(port=redis_server.port).init()
        bot = Bot(counter, initial_state={"count": 0}, session_store=store)
        await asyncio.wait_for(bot.handle_request(HI), 60)  # a hang guard only
        assert (await store.read("console:1"))["_state"] == {"count": 2}
        await store.close()
    finally:
        holder.kill()
        holder.wait()


async def test_a_blocked_loop_loses_the_lock_and_its_write_is_refused(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")

    async def blocking(context: Any) -> None:
        time.sleep(0.5)  # blocks the loop: no renewal
        context.set_state({"count": 1})

    store = await RedisSessionStore(port=redis_server.port, lock_timeout=0.2).init()
    try:
        with pytest.raises(StoreError, match="lock_timeout=0.2s.*event loop was blocked"):
            await Bot(blocking, initial_state={"count": 0}, session_store=store).handle_request(HI)
        assert await store.read("console:1") is None
        await Bot(counter, initial_state={"count": 0}, session_store=store).handle_request(HI)
        assert (await store.read("console:1"))["_state"] == {"count": 1}
    finally:
        await store.close()


async def test_a_crashed_process_does_not_wedge_the_session(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    crash = run_python(
        """
        import asyncio, os, signal, sys
        from bottender_nb import RedisSessionStore

        async def main():
            store = await RedisSessionStore(port=int(sys.argv[1]), lock_timeout=1).init()
            async with store.lock("console:1"):
                print("locked", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """,
        str(redis_server.port),
    )
    assert crash.returncode == -9 and "locked" in crash.stdout, crash.stderr
    assert redis_server.command("EXISTS", lock_key("console:1")) == "1"
    store = await RedisSessionStore(port=redis_server.port, lock_timeout=600).init()
    try:
        # The crashed owner's lock expires after its own 1 s (not this store's 600 s), and the
        # event goes on then, within the hang guard.
        bot = Bot(counter, initial_state={"count": 0}, session_store=store)
        await asyncio.wait_for(bot.handle_request(HI), 60)
        assert (await store.read("console:1"))["_state"] == {"count": 1}
    finally:
        await store.close()


COUNT_EVENTS = """
import asyncio, os, sys, time
from bottender_nb import Bot, RedisSessionStore

async def count(context):
    state = context.state
    await asyncio.sleep(0.0002)  # without the lock, other processes would write here
    context.set_state({
        "count": state["count"] + 1, "last_pid": os.getpid(),
        "handovers": state["handovers"] + (state["last_pid"] not in (0, os.getpid())),
    })

async def main(port, events, go_file):
    while not os.path.exists(go_file):
        time.sleep(0.002)
    async with RedisSessionStore(port=port) as store:
        initial = {"count": 0, "last_pid": 0, "handovers": 0}
        bot = Bot(count, initial_state=initial, session_store=store)
        for _ in range(events):
            await bot.handle_request({"message": {"text": "hi"}})

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""


async def test_four_processes_share_one_session_without_losing_an_update(
    store: RedisSessionStore, redis_server: RedisServer, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COUNT_EVENTS, str(redis_server.port), "250", str(go)],
            cwd=REPO, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    for process in processes:
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
    state = (await store.read("console:1"))["_state"]
    assert state["count"] == 1000
    # No process keeps the session to itself while others wait (they poll, with backoff, so
    # no fairness is promised): four processes one after another would hand over 3 times.
    assert state["handovers"] > 3


async def test_a_key_that_is_not_a_string_is_named(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    redis_server.command("HSET", "console:1", "field", "value")
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    with pytest.raises(CorruptSessionError, match="'console:1' holds a hash"):
        await bot.handle_request(HI)
    other = {"sender": {"id": "2"}, "message": {"text": "hi"}}
    await asyncio.gather(bot.handle_request(other, "messenger"), asyncio.sleep(0))
    assert (await store.read("messenger:2"))["_state"] == {"count": 1}  # others unharmed
    redis_server.command("SET", "console:2", "{not json")
    with pytest.raises(CorruptSessionError, match="'console:2' is not valid JSON"):
        await store.read("console:2")


# -- Redis down, restarted ---------------------------------------------------------------------


async def test_redis_down_is_a_clear_store_error() -> None:
    port = free_port()
    store = RedisSessionStore(port=port)
    with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{port}.*redis-server running"):
        await asyncio.wait_for(store.init(), 60)  # an error, not endless retries: a hang guard
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    with pytest.raises(StoreError, match="Cannot reach Redis"):
        await asyncio.wait_for(bot.handle_request(HI), 60)
    await store.close()


async def test_no_acknowledged_write_is_lost_when_redis_crashes(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persistent=True).start()  # appendfsync always
    restarted = None
    store = await RedisSessionStore(port=server.port).init()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    try:
        for _ in range(50):
            await bot.handle_request(HI)
        server.kill()  # SIGKILL right after the 50th write returned
        with pytest.raises(StoreError, match="redis-server running"):
            await bot.handle_request(HI)
        restarted = RedisServer(tmp_path / "redis", port=server.port, persistent=True).start()
        assert (await store.read("console:1"))["_state"] == {"count": 50}
        await bot.handle_request(HI)  # the same store carries on after the restart
        assert (await store.read("console:1"))["_state"] == {"count": 51}
    finally:
        await store.close()
        server.stop()
        if restarted is not None:
            restarted.stop()


async def test_flushed_scripts_are_loaded_again(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    redis_server.command("SCRIPT", "FLUSH")  # as after a restart
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 2}


# -- configuration and the extra ----------------------------------------------------------------


async def test_url_and_bottender_style_first_argument(redis_server: RedisServer) -> None:
    for store in (RedisSessionStore(url=redis_server.url), RedisSessionStore(redis_server.url)):
        await store.init()
        await store.write("console:9", record("console:9"))
        assert await store.read("console:9") == record("console:9")
        await store.close()


async def test_expires_in_rounds_up_to_whole_seconds(
    redis_server: RedisServer,
) -> None:
    store = await RedisSessionStore(port=redis_server.port, expires_in=0.01).init()  # 0.6 s
    try:
        await store.write("console:1", record("console:1"))
        # At most the 1 s it was given (-2: already gone on a slow machine); then the server
        # drops the key (no expiry, as rounding down to 0 would give, never ends).
        assert -2 <= int(redis_server.command("PTTL", "console:1")) <= 1000
        assert int(redis_server.command("PTTL", "console:1")) != -1  # -1: no expiry at all

        async def expired() -> None:
            while redis_server.command("EXISTS", "console:1") == "1":
                await asyncio.sleep(0.05)

        await asyncio.wait_for(expired(), 60)  # a hang guard only
    finally:
        await store.close()


def test_cluster_has_only_database_zero() -> None:
    with pytest.raises(ValueError, match="database 0"):
        RedisSessionStore(cluster=True, db=2)


def test_a_missing_redis_package_names_the_extra() -> None:
    result = run_python(
        """
        import sys
        sys.modules["redis"] = None  # as if redis-py were not installed
        import bottender_nb
        assert "redis" not in [name.split(".")[0] for name in sys.modules if sys.modules[name]]
        try:
            bottender_nb.RedisSessionStore
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "bottender-nb[redis]"' in result.stdout


def test_importing_the_package_does_not_import_redis() -> None:
    result = run_python("import sys, bottender_nb; print('redis' in sys.modules)")
    assert result.stdout.strip() == "False", result.stderr


# -- what the next event reads --------------------------------------------------------------------


async def test_back_to_back_events_see_a_write_made_outside_the_lock(
    store: RedisSessionStore,
) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    await store.write("console:1", record("console:1", count=41))  # outside any lock
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 42}


async def test_a_session_still_expires_between_back_to_back_events(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    now = [1_700_000_000.0]
    store = await RedisSessionStore(
        port=redis_server.port, expires_in=1, clock=lambda: now[0]
    ).init()
    try:
        bot = Bot(counter, initial_state={"count": 0}, session_store=store, clock=lambda: now[0])
        await bot.handle_request(HI)
        await bot.handle_request(HI)
        now[0] += 120  # two minutes later, by the clock
        await bot.handle_request(HI)
        assert (await store.read("console:1"))["_state"] == {"count": 1}
    finally:
        await store.close()
