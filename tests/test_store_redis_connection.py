"""The Redis store's lean connection (redis_socket) against real redis-server processes.

What a user sees: a password right and wrong, ``db=``, a unix socket, a server restarted
between events, ``busy_poll=0``, a stalled server and ``socket_timeout``, ``close()``; and
which connections fall back to redis-py's (TLS, a credential provider, RESP3).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.credentials import UsernamePasswordCredentialProvider

from bottender_nb import Bot, RedisSessionStore, StoreError
from bottender_nb.stores.redis_address import lean_address
from bottender_nb.stores.redis_busy_poll import BusyPoll
from bottender_nb.stores.redis_lanes import RedisPyConnection
from bottender_nb.stores.redis_socket import RespConnection
from servers import RedisServer, free_port

PASSWORD = "s3cret pass"  # a space: the handshake must send it as one argument
HI = {"message": {"text": "hi"}}


async def counter(context: Any) -> None:
    current = context.state["count"]
    await asyncio.sleep(0)
    context.set_state({"count": current + 1})


async def count_events(store: RedisSessionStore, events: int, users: int = 1) -> None:
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)

    async def conversation(user: int) -> None:
        for _ in range(events):
            await bot.handle_request({"sender": {"id": str(user)}, "message": {"text": "hi"}},
                                     "messenger")

    await asyncio.gather(*map(conversation, range(users)))


def connections(store: RedisSessionStore) -> list[Any]:
    return [lane._connection for lane in store._pipeline._lanes]


@pytest.fixture(scope="module")
def protected_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis-auth"), password=PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def unix_server() -> Iterator[RedisServer]:
    dirname = Path(tempfile.mkdtemp(prefix="bnb-", dir="/tmp"))  # sun_path holds 107 bytes
    path = str(dirname / "redis.sock")
    try:
        options = ("--unixsocket", path, "--unixsocketperm", "700")
        with RedisServer(dirname, extra_args=options) as server:
            server.socket_path = path  # type: ignore[attr-defined]
            yield server
    finally:
        shutil.rmtree(dirname, ignore_errors=True)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers: a stalled Redis."""
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


# -- which connection a lane uses --------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {}, {"url": "redis://127.0.0.1:6390/2"}, {"url": "unix:///tmp/redis.sock?db=1"},
    {"password": "x", "db": 3}, {"socket_timeout": 2, "client_name": "bot"},
])
def test_plain_connections_are_lean(options: dict[str, Any]) -> None:
    store = RedisSessionStore(**options)
    assert store.lean
    assert all(type(connection) is RespConnection for connection in connections(store))


@pytest.mark.parametrize("options", [
    {"url": "rediss://127.0.0.1:6390"},  # TLS
    {"ssl": True},
    {"credential_provider": UsernamePasswordCredentialProvider(password="x")},
    {"protocol": 3},
    {"redis_connect_func": lambda connection: None},
])
def test_what_the_lean_connection_cannot_do_falls_back_to_redis_py(
    options: dict[str, Any],
) -> None:
    store = RedisSessionStore(**options)
    assert not store.lean
    assert lean_address(store.client) is None
    assert all(type(connection) is RedisPyConnection for connection in connections(store))


def test_a_ready_client_is_read_for_its_address() -> None:
    address = lean_address(aioredis.Redis(host="example.org", port=7000, db=4, password="pw",
                                          username="bot", socket_timeout=1.5))
    assert address is not None
    assert (address.host, address.port, address.db, address.username, address.password,
            address.timeout) == ("example.org", 7000, 4, "bot", "pw", 1.5)
    assert lean_address(aioredis.RedisCluster.__new__(aioredis.RedisCluster)) is None


async def test_the_redis_py_fallback_runs_events(protected_server: RedisServer) -> None:
    provider = UsernamePasswordCredentialProvider(password=PASSWORD)
    store = await RedisSessionStore(port=protected_server.port, credential_provider=provider).init()
    try:
        assert not store.lean
        await count_events(store, 20, users=3)
        assert {r["_state"]["count"] for r in await store.all()} == {20}
    finally:
        await store.close()
        protected_server.command("FLUSHALL")


# -- what the lean connection connects to ------------------------------------------------------


async def test_a_password_protected_server(protected_server: RedisServer) -> None:
    store = await RedisSessionStore(port=protected_server.port, password=PASSWORD).init()
    try:
        assert store.lean
        await count_events(store, 10, users=2)
        check = redis.Redis(port=protected_server.port, password=PASSWORD)
        assert check.exists("messenger:0", "messenger:1") == 2
        check.close()
    finally:
        await store.close()
        protected_server.command("FLUSHALL")


@pytest.mark.parametrize("password", ["wrong", None])
async def test_a_wrong_or_missing_password_says_so(
    protected_server: RedisServer, password: str | None
) -> None:
    store = RedisSessionStore(port=protected_server.port, password=password)
    try:
        with pytest.raises(StoreError, match="refused to log in.*password="):
            async with store.lock("console:1"):  # the lean lanes, without init's redis-py ping
                pass
        with pytest.raises(StoreError, match="refused to log in"):
            await store.init()
    finally:
        await store.close()


async def test_db_selects_the_database(redis_server: RedisServer) -> None:
    check = redis.Redis(port=redis_server.port, db=3)
    check.flushdb()
    store = await RedisSessionStore(port=redis_server.port, db=3).init()
    try:
        await count_events(store, 5)
        assert check.get("messenger:0") is not None
        assert redis.Redis(port=redis_server.port, db=0).get("messenger:0") is None
    finally:
        await store.close()
        check.flushdb()
        check.close()


async def test_a_unix_socket_server(unix_server: RedisServer) -> None:
    path = unix_server.socket_path  # type: ignore[attr-defined]
    store = await RedisSessionStore(url=f"unix://{path}?db=2").init()
    try:
        assert store.lean and connections(store)[0].address.path == path
        await count_events(store, 10, users=3)
        check = redis.Redis(unix_socket_path=path, db=2)
        assert sorted(check.keys("messenger:*")) == [b"messenger:0", b"messenger:1", b"messenger:2"]
        check.close()
    finally:
        await store.close()


async def test_a_server_restarted_between_events(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persistent=True).start()
    store = await RedisSessionStore(port=server.port).init()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    try:
        for _ in range(5):
            await bot.handle_request(HI)
        server.stop()  # a clean shutdown: the connections it had are gone
        with pytest.raises(StoreError, match="Cannot reach Redis.*redis-server running"):
            await bot.handle_request(HI)
        server = RedisServer(tmp_path / "redis", port=server.port, persistent=True).start()
        for _ in range(5):
            await bot.handle_request(HI)
        assert (await store.read("console:1"))["_state"] == {"count": 10}
    finally:
        await store.close()
        server.stop()


async def test_an_open_connection_reconnects_once_after_a_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persistent=True).start()
    store = await RedisSessionStore(port=server.port).init()
    bot = Bot(counter, initial_state={"count": 0}, session_store=store)
    try:
        await bot.handle_request(HI)
        await asyncio.sleep(0.05)  # the lease is released: the next event acquires again
        server.stop()
        server = RedisServer(tmp_path / "redis", port=server.port, persistent=True).start()
        assert any(connection.is_connected for connection in connections(store))  # stale now
        await bot.handle_request(HI)  # its connection died with the old server: no error
        assert (await store.read("console:1"))["_state"] == {"count": 2}
    finally:
        await store.close()
        server.stop()


@pytest.mark.parametrize("busy_poll", [0, 0.001, 0.5])
async def test_busy_poll_settings_all_count_right(
    redis_server: RedisServer, busy_poll: float
) -> None:
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port, busy_poll=busy_poll).init()
    try:
        assert store.busy_poll == busy_poll
        await count_events(store, 30, users=20)
        assert [r["_state"]["count"] for r in await store.all()] == [30] * 20
    finally:
        await store.close()


@pytest.mark.parametrize("busy_poll", [-1, "1ms", True])
def test_a_bad_busy_poll_is_refused(busy_poll: Any) -> None:
    with pytest.raises(ValueError, match="busy_poll must be seconds"):
        RedisSessionStore(busy_poll=busy_poll)


async def test_the_fallbacks_busy_poll_stops_when_nothing_is_in_flight() -> None:
    poll = BusyPoll(10.0)  # a long budget: only the end of the round trip may stop it
    poll.begin()
    for _ in range(3):
        await asyncio.sleep(0)
    assert poll.polling
    poll.end()
    for _ in range(3):
        await asyncio.sleep(0)
    assert not poll.polling


async def test_a_stalled_server_is_a_timeout_and_the_connection_is_replaced(
    silent_server: int,
) -> None:
    store = RedisSessionStore(port=silent_server, socket_timeout=0.2)
    try:
        with pytest.raises(StoreError, match="did not answer within socket_timeout=0.2s"):
            async with store.lock("console:1"):
                pass
        assert not any(connection.is_connected for connection in connections(store))
    finally:
        await store.close()


async def test_close_releases_every_connection(redis_server: RedisServer) -> None:
    def clients() -> int:
        info = redis_server.command("INFO", "clients")
        return int(info.split("connected_clients:")[1].split()[0])

    before = clients()
    store = await RedisSessionStore(port=redis_server.port).init()
    await count_events(store, 10, users=10)  # both lanes and the client's pool in use
    assert clients() > before
    await store.close()
    await asyncio.sleep(0.05)  # the server notices the closed sockets
    assert clients() == before


async def test_nothing_listening_is_a_clear_error() -> None:
    port = free_port()
    store = RedisSessionStore(port=port)
    with pytest.raises(StoreError, match=rf"Cannot reach Redis at 127\.0\.0\.1:{port}"):
        async with store.lock("console:1"):
            pass
    await store.close()


# -- the pipeline's batching -----------------------------------------------------------------------


class _EchoLane:
    """A lane that answers each call with its position in the batch, and counts batches."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def group(self, calls: list[Any]) -> list[list[Any]]:
        return [calls]

    async def run(self, groups: list[list[Any]]) -> list[Any]:
        self.batches.append(sum(map(len, groups)))
        await asyncio.sleep(0)
        return [list(range(len(group))) for group in groups]

    async def close(self) -> None:
        pass


async def test_a_lone_caller_sends_at_once_and_a_crowd_shares_a_batch() -> None:
    from bottender_nb.stores.redis_keys import WRITE
    from bottender_nb.stores.redis_pipeline import Pipeline
    from bottender_nb.stores.redis_resp import Arguments

    in_progress = [1]
    lane = _EchoLane()
    pipeline = Pipeline([lane], in_progress=lambda: in_progress[0])
    keys, token = Arguments("k"), Arguments("t")
    assert await pipeline.call(WRITE, keys, token, b"v") == 0
    in_progress[0] = 30  # other events in progress: calls of one pass go together
    replies = await asyncio.gather(*(pipeline.call(WRITE, keys, token, b"v") for _ in range(10)))
    assert lane.batches == [1, 10] and sorted(replies) == list(range(10))


async def test_a_crowd_is_split_between_the_lanes_so_both_work_at_once() -> None:
    from bottender_nb.stores.redis_keys import WRITE
    from bottender_nb.stores.redis_pipeline import Pipeline
    from bottender_nb.stores.redis_resp import Arguments

    lanes = [_EchoLane(), _EchoLane()]
    pipeline = Pipeline(lanes, in_progress=lambda: 20)
    calls = [pipeline.call(WRITE, Arguments("k"), Arguments("t"), b"v") for _ in range(20)]
    await asyncio.gather(*calls)
    # Each lane took its share as soon as the share was there, not all 20 on the next pass.
    assert sorted(lanes[0].batches + lanes[1].batches) == [10, 10]


async def test_close_sends_the_calls_waiting_for_the_next_pass() -> None:
    from bottender_nb.stores.redis_keys import WRITE
    from bottender_nb.stores.redis_pipeline import Pipeline
    from bottender_nb.stores.redis_resp import Arguments

    lane = _EchoLane()
    pipeline = Pipeline([lane], in_progress=lambda: 100)
    calls = [asyncio.ensure_future(pipeline.call(WRITE, Arguments("k"), Arguments("t")))
             for _ in range(3)]
    await asyncio.sleep(0)  # the calls are queued; the batch would go on the next pass
    await pipeline.close()
    assert lane.batches == [3]  # sent before the lanes closed, not after
    assert sorted(await asyncio.gather(*calls)) == [0, 1, 2]


async def test_a_batch_larger_than_the_socket_buffer_is_sent_whole(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port).init()
    try:
        bot = Bot(counter, initial_state={"count": 0}, session_store=store)
        big = "x" * 200_000  # 100 sessions x 200 kB in one batch: several MB to send

        async def conversation(user: int) -> None:
            body = {"sender": {"id": str(user)}, "message": {"text": big}}
            for _ in range(2):
                await bot.handle_request(body, "messenger")

        async def padded(context: Any) -> None:
            await counter(context)
            context.set_state({"padding": context.event.text})

        bot.action = padded
        await asyncio.gather(*map(conversation, range(100)))
        records = await store.all()
        assert sorted(r["_state"]["count"] for r in records) == [2] * 100
        assert all(len(r["_state"]["padding"]) == 200_000 for r in records)
    finally:
        await store.close()
