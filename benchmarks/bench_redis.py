"""Events/s of a counting bot on RedisSessionStore, next to redis-py's raw round-trip rate.

Starts its own ``redis-server`` on a free loopback port (no persistence) and stops it after.
Prints one JSON object per line:

* ``redis_py_set_get``: sequential ``SET`` + ``GET`` round trips/s through ``redis.asyncio``
  -- the ceiling for anything that waits for Redis once per event;
* ``redis_one_session_sequential``: ``await bot.handle_request`` one event after another;
* ``redis_100_conversations``: 100 conversations at once, each sending its next event when
  the previous one is handled;
* the same two on ``MemorySessionStore``, for the cost of the runner itself.

Each figure is the best of ``--rounds`` runs of ``--seconds`` (the machine is shared);
every run checks that the counters add up.

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

import redis.asyncio as aioredis

from bottender_nb import Bot, MemorySessionStore, RedisSessionStore
from bottender_nb.stores.base import SessionStore

CONVERSATIONS = 100


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


Run = Callable[[], Awaitable[tuple[int, float]]]


async def best_of(rounds: int, run: Run, reset: Callable[[], Awaitable[None]]) -> dict[str, float]:
    rates = []
    for _ in range(rounds):
        await reset()
        done, elapsed = await run()
        rates.append(done / elapsed)
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

    memory = MemorySessionStore(max_size=1000)
    await sequential(store, 0.3)  # warm up: connections, scripts
    figures = [
        ("redis_py_set_get", lambda: set_get(raw, seconds), flush, "round trips"),
        ("redis_one_session_sequential", lambda: sequential(store, seconds), flush, "events"),
        ("redis_100_conversations", lambda: concurrent(store, seconds), flush, "events"),
        ("memory_one_session_sequential", lambda: sequential(memory, seconds), fresh_memory,
         "events"),
        ("memory_100_conversations", lambda: concurrent(memory, seconds), fresh_memory, "events"),
    ]
    round_trips = None
    for name, run, reset, unit in figures:
        result = await best_of(rounds, run, reset)
        if name == "redis_py_set_get":
            round_trips = result["per_s"]
        elif name == "redis_one_session_sequential" and round_trips:
            # One round trip per event is the floor: how close the store gets to it.
            result["of_redis_py_round_trip_rate"] = round(result["per_s"] / round_trips, 2)
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
