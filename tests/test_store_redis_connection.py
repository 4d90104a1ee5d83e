"""Where and how the Redis store connects (through redis-py), against real redis-server processes.

What a user sees: a password right and wrong, a credential provider, ``db=``, a unix socket,
a server restarted between events, a stalled server and ``socket_timeout``, ``close()``,
large values.
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
from redis.credentials import UsernamePasswordCredentialProvider

from bottender_nb import Bot, RedisSessionStore, StoreError
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


# -- what the store connects to ------------------------------------------------------------------


async def test_a_credential_provider(protected_server: RedisServer) -> None:
    provider = UsernamePasswordCredentialProvider(password=PASSWORD)
    store = await RedisSessionStore(port=protected_server.port, credential_provider=provider).init()
    try:
        await count_events(store, 20, users=3)
        assert {r["_state"]["count"] for r in await store.all()} == {20}
    finally:
        await store.close()
        protected_server.command("FLUSHALL")


async def test_a_password_protected_server(protected_server: RedisServer) -> None:
    store = await RedisSessionStore(port=protected_server.port, password=PASSWORD).init()
    try:
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
            async with store.lock("console:1"):  # without init's ping
                pass
        with pytest.raises(StoreError, match="refused to log in"):
            await store.init()
    finally:
        await store.close()


async def test_client_options_outlast_the_pool_that_waits(redis_server: RedisServer) -> None:
    """The store's pool waits for a free connection; the user's options still hold."""
    for options in ({"port": redis_server.port}, {"url": redis_server.url}):
        store = RedisSessionStore(**options, single_connection_client=True, max_connections=7)
        client = store.client
        assert client.single_connection_client
        assert client.connection_pool.max_connections == 7
        assert await client.ping()
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
        server.stop()
        server = RedisServer(tmp_path / "redis", port=server.port, persistent=True).start()
        await bot.handle_request(HI)  # its pooled connection died with the old server: no error
        assert (await store.read("console:1"))["_state"] == {"count": 2}
    finally:
        await store.close()
        server.stop()


async def test_a_stalled_server_is_a_timeout(silent_server: int) -> None:
    store = RedisSessionStore(port=silent_server, socket_timeout=0.2)
    try:
        with pytest.raises(StoreError, match="did not answer within socket_timeout=0.2s"):
            # the socket timeout ends the wait, not this hang guard
            await asyncio.wait_for(Bot(counter, session_store=store).handle_request(HI), 60)
    finally:
        await store.close()


async def test_close_releases_every_connection(redis_server: RedisServer) -> None:
    def clients() -> int:
        info = redis_server.command("INFO", "clients")
        return int(info.split("connected_clients:")[1].split()[0])

    before = clients()
    store = await RedisSessionStore(port=redis_server.port).init()
    await count_events(store, 10, users=10)  # the pool holds several connections
    assert clients() > before
    await store.close()

    async def all_closed() -> None:  # the server notices the closed sockets
        while clients() != before:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(all_closed(), 60)  # a hang guard only
    assert clients() == before


async def test_nothing_listening_is_a_clear_error() -> None:
    port = free_port()
    store = RedisSessionStore(port=port)
    with pytest.raises(StoreError, match=rf"Cannot reach Redis at 127\.0\.0\.1:{port}"):
        async with store.lock("console:1"):
            pass
    await store.close()


# -- large values --------------------------------------------------------------------------------


async def test_large_sessions_of_many_conversations_at_once(
    redis_server: RedisServer,
) -> None:
    redis_server.command("FLUSHALL")
    store = await RedisSessionStore(port=redis_server.port).init()
    try:
        bot = Bot(counter, initial_state={"count": 0}, session_store=store)
        big = "x" * 200_000  # 100 sessions x 200 kB at once: several MB in flight

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
