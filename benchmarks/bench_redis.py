"""Events/s of a counting bot on RedisSessionStore, next to Bottender's own Redis store.

Starts its own ``redis-server`` on a free loopback port (no persistence) and stops it after.
Every figure of ours is the bot users get, ``Bot(action, initial_state=..., session_store=...)``
(so ``history=1000``), with the ``history=0`` figure beside it. Prints one JSON object per line:

* ``bottender_one_session``: with ``--bottender DIR`` (a directory holding
  ``node_modules/bottender``, ``npm install --ignore-scripts bottender@1.5.5``), Bottender's own
  ``ConsoleBot`` on its ``RedisSessionStore`` (ioredis) under node, against the same server
  (``bottender_counting.js``); without it, a stand-in: the same bot on a store doing what
  Bottender's ``RedisCacheStore`` does per event (``GET`` + parse, dump + ``SET``; no lock),
  through our runner and redis-py (``peer`` says which);
* ``floor_redis_py_get_set``: sequential ``GET`` + ``SET`` pairs/s through one redis-py
  connection, the client's own floor for two round trips per event;
* ``ceiling_redis_py_one_call`` and ``ceiling_redis_py_100_at_once``: ``GET``s/s through
  redis-py, one after another and from 100 tasks at once: the most events/s a store can reach
  through this client with one round trip per event (what a busy session's event costs here),
  each next to Bottender's one-session rate;
* ``ceiling_store_write_100_at_once``: ``EVALSHA``s shaped like the store's write (six keys,
  eight arguments) through the store's own client from 100 tasks at once: the call a busy
  session's event makes, alone. ``redis_100_conversations`` can reach at most this rate, and
  prints its share of it (``of_write_ceiling``);
* ``redis_one_session_sequential``: ``await bot.handle_request`` one event after another
  (floor: 1.0x Bottender's one-session rate);
* ``redis_100_conversations``: 100 conversations at once, each sending its next event when
  the previous one is handled (floor: 3x Bottender's one-session rate).

Measured round by round, each round running every figure once for ``--seconds``, so the
machine's drifts hit all of them alike; ``per_s`` is the best round. Every run checks counters.

    python benchmarks/bench_redis.py [--seconds 1.5] [--rounds 3] [--bottender DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def counting_bot(store: SessionStore, history: int | None) -> Bot:
    """The bot as users write it (history=None: the default), or with ``history`` turns."""
    options = {} if history is None else {"history": history}
    return Bot(count, initial_state={"count": 0}, session_store=store, **options)


async def sequential(store: SessionStore, seconds: float, history: int | None = None) -> tuple[int, float]:
    """One conversation, one event after another, for about ``seconds``."""
    bot = counting_bot(store, history)
    events, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            await bot.handle_request(body(0), "messenger")
        events += 100
    elapsed = time.perf_counter() - started
    await expect_counts(store, {"messenger:0": events})
    return events, elapsed


async def concurrent(store: SessionStore, seconds: float, history: int | None = None) -> tuple[int, float]:
    """``CONVERSATIONS`` conversations at once, each sequential, for about ``seconds``."""
    bot = counting_bot(store, history)
    sent, elapsed = await per_task(lambda user: bot.handle_request(body(user), "messenger"),
                                   seconds, CONVERSATIONS)
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


async def gets(client: aioredis.Redis, seconds: float, tasks: int = 1) -> tuple[int, float]:
    """``GET``s, one after another in each of ``tasks`` tasks at once."""
    done, elapsed = await per_task(lambda task: client.get("bench:raw"), seconds, tasks)
    return sum(done), elapsed


# The write script's work inside Redis is not what a ceiling measures: a stand-in of its size
# (six keys, eight arguments, a three-element reply), as the store's client sends it.
WRITE_LIKE = "redis.call('SET', KEYS[1], ARGV[3]) return {1, redis.call('INCR', KEYS[4]), 1}"
WRITE_ARGS = ["token:1", 0, '{"id":"console:1","_state":{"count":1}}', 1000,
              '"body":{"message":{"text":"hi"}},"state":{"count":1}}', 60000, "token:1/1", 10000]


def write_keys(task: int) -> list[str]:
    key = f"console:{task}"
    return [key] + [f"{{{key}}}:{mark}:{key}" for mark in ("lock", "history", "next", "written", "wanted")]


async def writes(store: RedisSessionStore, seconds: float, tasks: int) -> tuple[int, float]:
    """Write-shaped ``EVALSHA``s through the store's own client from ``tasks`` tasks at once:
    the one call a busy session's event makes, with no event around it."""
    script = store.client.register_script(WRITE_LIKE)
    done, elapsed = await per_task(lambda task: script(write_keys(task), WRITE_ARGS), seconds, tasks)
    return sum(done), elapsed


async def per_task(call: Callable[[int], Awaitable[Any]], seconds: float, tasks: int) -> tuple[list[int], float]:
    """``call(task)`` one after another in each of ``tasks`` tasks at once, for ``seconds``:
    how many calls each task made, and the seconds they took."""
    deadline = time.perf_counter() + seconds

    async def one_task(task: int) -> int:
        done = 0
        while time.perf_counter() < deadline:
            await call(task)
            done += 1
        return done

    started = time.perf_counter()
    done = await asyncio.gather(*(one_task(task) for task in range(tasks)))
    return list(done), time.perf_counter() - started


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


def bottender_one_session(bottender_dir: str, port: int, seconds: float) -> tuple[int, float]:
    """Bottender's ConsoleBot on its RedisSessionStore under node: (events, seconds) of its
    median block."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bottender_counting.js")
    env = {**os.environ, "NODE_PATH": os.path.join(bottender_dir, "node_modules")}
    out = subprocess.run(["node", script, str(seconds), "redis", str(port)], env=env,
                         capture_output=True, text=True, check=True, timeout=60 + seconds)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["median_events_per_s"]), 1.0


async def main(port: int, seconds: float, rounds: int, bottender_dir: str | None) -> None:
    one_connection = aioredis.Redis(port=port, max_connections=1)
    raw = aioredis.Redis(port=port)
    store = await RedisSessionStore(port=port).init()
    await sequential(store, 0.3)  # warm up: connections, scripts
    if bottender_dir:
        peer, bottender = "bottender 1.5.5 under node (ioredis)", lambda: asyncio.to_thread(
            bottender_one_session, bottender_dir, port, seconds)
    else:
        stand_in = BottenderLikeStore(raw)
        peer, bottender = "bottender-like GET+SET on redis-py", lambda: sequential(stand_in, seconds, 0)
    figures: list[tuple[str, Run]] = [
        ("floor_redis_py_get_set", lambda: get_set(one_connection, seconds)),
        ("ceiling_redis_py_one_call", lambda: gets(raw, seconds)),
        ("ceiling_redis_py_100_at_once", lambda: gets(raw, seconds, CONVERSATIONS)),
        ("ceiling_store_write_100_at_once", lambda: writes(store, seconds, CONVERSATIONS)),
        ("bottender_one_session", bottender),
        ("redis_one_session_sequential", lambda: sequential(store, seconds)),
        ("redis_one_session_sequential_history_0", lambda: sequential(store, seconds, 0)),
        ("redis_100_conversations", lambda: concurrent(store, seconds)),
        ("redis_100_conversations_history_0", lambda: concurrent(store, seconds, 0)),
    ]
    rates = await round_by_round(rounds, figures, raw.flushall)
    best = {name: max(values) for name, values in rates.items()}
    floors = {"redis_one_session_sequential": 1.0, "redis_100_conversations": 3.0}
    units = {"floor_redis_py_get_set": "GET+SET pairs/s", "ceiling_redis_py_one_call": "GETs/s",
             "ceiling_redis_py_100_at_once": "GETs/s",
             "ceiling_store_write_100_at_once": "EVALSHAs/s"}
    for name, values in rates.items():
        result: dict[str, Any] = {
            "benchmark": name, "unit": units.get(name, "events/s"), "per_s": round(best[name]),
            "median_per_s": round(sorted(values)[len(values) // 2]),
        }
        if name == "bottender_one_session":
            result["peer"] = peer
        if name.startswith(("redis_", "ceiling_")):
            ratio = best[name] / best["bottender_one_session"]
            result["of_bottender_one_session"] = round(ratio, 2)
            if name in floors:
                result |= {"target": floors[name], "meets_target": ratio >= floors[name]}
        if name == "redis_100_conversations":  # how close the event gets to its one call alone
            result["of_write_ceiling"] = round(best[name] / best["ceiling_store_write_100_at_once"], 2)
        print(json.dumps(result), flush=True)
    await store.close()
    await raw.aclose()
    await one_connection.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure; the best counts")
    parser.add_argument("--bottender", metavar="DIR", help="a directory with node_modules/bottender")
    options = parser.parse_args()
    with redis_server() as redis_port:
        asyncio.run(main(redis_port, options.seconds, options.rounds, options.bottender))
