"""Events/s of a counting bot on RedisSessionStore, next to the machine's round-trip floor.

Starts its own ``redis-server`` on a free loopback port (no persistence) and stops it after.
Prints one JSON object per line:

* ``floor_protocol_ping`` / ``floor_protocol_ping_busy_poll``: sequential ``PING`` round
  trips/s through a minimal ``asyncio.Protocol`` (hiredis parsing), the loop sleeping while
  the reply is due / kept polling (:class:`BusyPoll`) -- what this VM gives any asyncio
  client that waits for Redis once per event;
* ``floor_lean_connection_ping``: the same through the store's own lane connection;
* ``redis_py_set_get``: sequential ``SET`` + ``GET`` round trips/s through ``redis.asyncio``;
* ``redis_one_session_sequential``: ``await bot.handle_request`` one event after another;
* ``redis_100_conversations``: 100 conversations at once, each sending its next event when
  the previous one is handled;
* the same two on ``MemorySessionStore``, for the cost of the runner itself.

Each store figure also comes as a fraction of each floor (``of_<floor>``; the 100
conversations share round trips, so theirs can pass 1). The figures are measured round by
round, each round running every figure once for ``--seconds``, so the machine's drifts
(it is shared, and a VM's wake-up cost changes as the host adapts) hit all of them alike;
``per_s`` is the best round, ``median_per_s`` the median. Every run checks its counters.

    python benchmarks/bench_redis.py [--seconds 1.5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import hiredis
import redis.asyncio as aioredis

from bottender_nb import Bot, MemorySessionStore, RedisSessionStore
from bottender_nb.stores.base import SessionStore
from bottender_nb.stores.redis_address import lean_address
from bottender_nb.stores.redis_busy_poll import BusyPoll
from bottender_nb.stores.redis_socket import RespConnection

CONVERSATIONS = 100
PING = b"*1\r\n$4\r\nPING\r\n"
FLOORS = ["floor_protocol_ping", "floor_protocol_ping_busy_poll", "floor_lean_connection_ping"]


async def count(context) -> None:  # type: ignore[no-untyped-def]
    context.set_state({"count": context.state["count"] + 1})


def body(user: int) -> dict:
    return {"sender": {"id": str(user)}, "message": {"text": "hi"}}


async def sequential(store: SessionStore, seconds: float) -> tuple[int, float]:
    """One conversation, one event after another, for about ``seconds``."""
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    events, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            await bot.handle_request(body(0), "messenger")
        events += 100
    elapsed = time.perf_counter() - started
    await expect_counts(store, {"messenger:0": events})
    return events, elapsed


async def concurrent(store: SessionStore, seconds: float) -> tuple[int, float]:
    """``CONVERSATIONS`` conversations at once, each sequential, for about ``seconds``."""
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    deadline = time.perf_counter() + seconds

    async def conversation(user: int) -> int:
        sent = 0
        while time.perf_counter() < deadline:
            await bot.handle_request(body(user), "messenger")
            sent += 1
        return sent

    started = time.perf_counter()
    sent = await asyncio.gather(*(conversation(user) for user in range(CONVERSATIONS)))
    elapsed = time.perf_counter() - started
    await expect_counts(store, {f"messenger:{user}": n for user, n in enumerate(sent)})
    return sum(sent), elapsed


async def expect_counts(store: SessionStore, expected: dict[str, int]) -> None:
    counts = {s["id"]: s["_state"]["count"] for s in await store.all() if s["id"] in expected}
    assert counts == {key: n for key, n in expected.items() if n}, "lost or extra updates"


async def set_get(client: aioredis.Redis, seconds: float) -> tuple[int, float]:
    ops, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            await client.set("bench:raw", "x")
            await client.get("bench:raw")
        ops += 200
    return ops, time.perf_counter() - started


class _PingProtocol(asyncio.Protocol):
    """The least an asyncio client does per round trip: write, parse, resolve a future."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiter: asyncio.Future[object] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        reply = self.reader.gets()
        if reply is not False and self.waiter is not None:
            self.waiter.set_result(reply)


async def protocol_ping(port: int, seconds: float, busy_poll: float) -> tuple[int, float]:
    """Sequential PINGs through a minimal protocol; the loop polls for ``busy_poll`` s per wait."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(_PingProtocol, "127.0.0.1", port)
    poll = BusyPoll(busy_poll)
    pings, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            protocol.waiter = loop.create_future()
            transport.write(PING)
            poll.begin()
            await protocol.waiter
            poll.end()
        pings += 100
    elapsed = time.perf_counter() - started
    transport.close()
    return pings, elapsed


async def lean_ping(port: int, seconds: float) -> tuple[int, float]:
    """Sequential PINGs through the store's own lane connection (busy polling 1 ms)."""
    address = lean_address(aioredis.Redis(port=port, socket_timeout=None))
    assert address is not None
    connection = RespConnection(address, busy_poll=0.001)
    pings, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            await connection.round_trip(PING, 1)
        pings += 100
    elapsed = time.perf_counter() - started
    await connection.close()
    return pings, elapsed


Run = Callable[[], Awaitable[tuple[int, float]]]
Reset = Callable[[], Awaitable[None]]


async def round_by_round(
    rounds: int, figures: list[tuple[str, Run, Reset, str]]
) -> dict[str, list[float]]:
    """Every figure once per round, so drifts of the machine hit them all alike."""
    rates: dict[str, list[float]] = {name: [] for name, *_ in figures}
    for _ in range(rounds):
        for name, run, reset, _ in figures:
            await reset()
            done, elapsed = await run()
            rates[name].append(done / elapsed)
    return rates


def summary(rates: list[float]) -> dict[str, float]:
    return {"per_s": round(max(rates)), "median_per_s": round(sorted(rates)[len(rates) // 2])}


@contextmanager
def redis_server() -> Iterator[int]:
    """A throwaway redis-server on a free loopback port; yields the port."""
    path = shutil.which("redis-server")
    if path is None:
        sys.exit("redis-server is not on PATH; install it: apt-get install -y redis-server")
    with socket.socket() as probe, tempfile.TemporaryDirectory() as dirname:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        process = subprocess.Popen(
            [path, "--port", str(port), "--bind", "127.0.0.1", "--dir", dirname, "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_for(port)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"redis-server on port {port} did not answer PING")


async def main(port: int, seconds: float, rounds: int) -> None:
    raw = aioredis.Redis(port=port)
    store = await RedisSessionStore(port=port).init()

    async def flush() -> None:
        await raw.flushall()
        store._leases.clear()  # the flush dropped their lock keys too

    async def fresh_memory() -> None:
        nonlocal memory
        memory = MemorySessionStore(max_size=1000)

    async def nothing() -> None:
        pass

    memory = MemorySessionStore(max_size=1000)
    await sequential(store, 0.3)  # warm up: connections, scripts
    figures: list[tuple[str, Run, Reset, str]] = [
        ("floor_protocol_ping", lambda: protocol_ping(port, seconds, 0), nothing, "round trips"),
        ("floor_protocol_ping_busy_poll", lambda: protocol_ping(port, seconds, 0.001), nothing,
         "round trips"),
        ("floor_lean_connection_ping", lambda: lean_ping(port, seconds), nothing, "round trips"),
        ("redis_py_set_get", lambda: set_get(raw, seconds), flush, "round trips"),
        ("redis_one_session_sequential", lambda: sequential(store, seconds), flush, "events"),
        ("redis_100_conversations", lambda: concurrent(store, seconds), flush, "events"),
        ("memory_one_session_sequential", lambda: sequential(memory, seconds), fresh_memory,
         "events"),
        ("memory_100_conversations", lambda: concurrent(memory, seconds), fresh_memory, "events"),
    ]
    rates = await round_by_round(rounds, figures)
    results = {name: summary(rates[name]) for name in rates}
    for name, _, _, unit in figures:
        result = results[name]
        if name.startswith("redis_") and name != "redis_py_set_get":
            # One round trip per event is the floor: how close the store gets to each.
            for floor in FLOORS:
                result[f"of_{floor}"] = round(result["per_s"] / results[floor]["per_s"], 2)
            result["of_redis_py_round_trip_rate"] = round(
                result["per_s"] / results["redis_py_set_get"]["per_s"], 2
            )
        print(json.dumps({"benchmark": name, "unit": f"{unit}/s", **result}), flush=True)
    await store.close()
    await raw.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure; the best counts")
    options = parser.parse_args()
    with redis_server() as redis_port:
        asyncio.run(main(redis_port, options.seconds, options.rounds))
