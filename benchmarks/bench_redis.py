"""Events/s of a counting bot on RedisSessionStore, next to Bottender's way and the client's floor.

Starts its own ``redis-server`` on a free loopback port (no persistence) and stops it after.
Prints one JSON object per line:

* ``floor_redis_py_get_set``: sequential ``GET`` + ``SET`` pairs/s through one
  ``redis.asyncio`` connection -- the client's own floor for two round trips per event;
* ``bottender_like_one_session``: the same bot on a store doing what Bottender's
  ``RedisCacheStore`` does per event (``GET`` + parse, then dump + ``SET``; no lock), through
  the same runner and the same client, one event after another;
* ``redis_one_session_sequential``: ``await bot.handle_request`` one event after another;
* ``redis_100_conversations``: 100 conversations at once, each sending its next event when
  the previous one is handled.

Each store figure also comes as a fraction of the floor and of ``bottender_like_one_session``
(issue 12's targets: one session >= 1.0x, 100 conversations >= 3x). The figures are measured
round by round, each round running every figure once for ``--seconds``, so the machine's drifts
hit all of them alike; ``per_s`` is the best round, ``median_per_s`` the median. Every run
checks its counters.

    python benchmarks/bench_redis.py [--seconds 1.5] [--rounds 3]
"""

from __future__ import annotations

HISTORY = 0  # the store's own cost, as Bottender's store (which keeps no turns) is measured

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
from typing import Any

import redis.asyncio as aioredis

from bottender_nb import Bot, RedisSessionStore
from bottender_nb.record import dumps_utf8, loads
from bottender_nb.stores.base import SessionStore

CONVERSATIONS = 100


class BottenderLikeStore(SessionStore):
    """Bottender's RedisCacheStore: GET and JSON.parse; JSON.stringify and SET. No lock."""

    def __init__(self, client: aioredis.Redis) -> None:
        super().__init__()
        self.client = client

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        value = await self.client.get(session_id)
        return None if value is None else loads(value, where=session_id)

    async def write(self, session_id: str, session: Any) -> None:
        await self.client.set(session_id, dumps_utf8(session))

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        await self.client.delete(session_id)

    async def _all(self) -> list[dict[str, Any]]:
        keys = [key async for key in self.client.scan_iter(match="messenger:*")]
        return [loads(value, where="") for value in await self.client.mget(keys)] if keys else []


async def count(context) -> None:  # type: ignore[no-untyped-def]
    context.set_state({"count": context.state["count"] + 1})


def body(user: int) -> dict:
    return {"sender": {"id": str(user)}, "message": {"text": "hi"}}


async def sequential(store: SessionStore, seconds: float) -> tuple[int, float]:
    """One conversation, one event after another, for about ``seconds``."""
    bot = Bot(count, initial_state={"count": 0}, session_store=store, history=HISTORY)
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
    bot = Bot(count, initial_state={"count": 0}, session_store=store, history=HISTORY)
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


async def get_set(client: aioredis.Redis, seconds: float) -> tuple[int, float]:
    """GET + SET pairs through one connection (a client with a pool of one)."""
    pairs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            await client.get("bench:raw")
            await client.set("bench:raw", "x")
        pairs += 100
    return pairs, time.perf_counter() - started


Run = Callable[[], Awaitable[tuple[int, float]]]


async def round_by_round(
    rounds: int, figures: list[tuple[str, Run]], reset: Callable[[], Awaitable[Any]]
) -> dict[str, list[float]]:
    """Every figure once per round, so drifts of the machine hit them all alike."""
    rates: dict[str, list[float]] = {name: [] for name, _ in figures}
    for _ in range(rounds):
        for name, run in figures:
            await reset()
            done, elapsed = await run()
            rates[name].append(done / elapsed)
    return rates


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
    one_connection = aioredis.Redis(port=port, max_connections=1)
    raw = aioredis.Redis(port=port)
    bottender = BottenderLikeStore(raw)
    store = await RedisSessionStore(port=port).init()
    await sequential(store, 0.3)  # warm up: connections, scripts
    figures: list[tuple[str, Run]] = [
        ("floor_redis_py_get_set", lambda: get_set(one_connection, seconds)),
        ("bottender_like_one_session", lambda: sequential(bottender, seconds)),
        ("redis_one_session_sequential", lambda: sequential(store, seconds)),
        ("redis_100_conversations", lambda: concurrent(store, seconds)),
    ]
    rates = await round_by_round(rounds, figures, raw.flushall)
    best = {name: max(values) for name, values in rates.items()}
    units = {"floor_redis_py_get_set": "GET+SET pairs/s"}
    for name, values in rates.items():
        result: dict[str, Any] = {
            "benchmark": name, "unit": units.get(name, "events/s"), "per_s": round(best[name]),
            "median_per_s": round(sorted(values)[len(values) // 2]),
        }
        if name != "floor_redis_py_get_set":
            result["of_floor"] = round(best[name] / best["floor_redis_py_get_set"], 2)
        if name.startswith("redis_"):
            result["of_bottender_one_session"] = round(
                best[name] / best["bottender_like_one_session"], 2
            )
        print(json.dumps(result), flush=True)
    await store.close()
    await raw.aclose()
    await one_connection.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure; the best counts")
    options = parser.parse_args()
    with redis_server() as redis_port:
        asyncio.run(main(redis_port, options.seconds, options.rounds))
