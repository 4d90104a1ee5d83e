"""What one Redis call costs the store's process, by client and client setting.

The Redis floors of ``bench_redis.py`` are bound by the client's CPU per call on this machine
(one call per event, when a session is busy). This prints, for a ``GET`` and for an
``EVALSHA`` shaped like the store's write script (six keys, eight arguments), one after
another and from 100 tasks at once:

* ``redis_py_store``: redis-py as the store makes it: a ``BlockingConnectionPool`` (event 101 of
  101 at once waits for a connection instead of failing) and redis-py's default
  ``socket_timeout`` (5 s), which on Python 3.11 wraps every send in ``asyncio.wait_for``: a
  task of its own per call;
* ``redis_py_plain``: redis-py's default ``ConnectionPool`` (fails past 100 calls at once);
* ``redis_py_no_socket_timeout``: the store's client, ``socket_timeout=None`` (a stalled
  server would hang the event instead of failing it);
* ``glide``: valkey-glide's asyncio client (a Rust core on its own thread), when installed.

Each line: calls/s and the process's CPU microseconds per call (``time.process_time``, which
counts glide's own thread too), the median of ``--rounds`` rounds that run every case in turn.

    python benchmarks/bench_redis_clients.py [--seconds 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from bench_redis import WRITE_ARGS, WRITE_LIKE, per_task, redis_server, write_keys


async def rate(call: Callable[[int], Awaitable[Any]], tasks: int, seconds: float) -> tuple[float, float]:
    """Calls/s and CPU µs per call, with ``tasks`` tasks each making one call after another."""
    cpu = time.process_time()
    done, elapsed = await per_task(call, seconds, tasks)
    return sum(done) / elapsed, (time.process_time() - cpu) / sum(done) * 1e6


def redis_py_cases(port: int) -> dict[str, Any]:
    def blocking(**options: Any) -> aioredis.Redis:
        return aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool(
            port=port, max_connections=100, **options))
    return {"redis_py_store": blocking(), "redis_py_plain": aioredis.Redis(port=port),
            "redis_py_no_socket_timeout": blocking(socket_timeout=None)}


async def glide_case(port: int) -> Any | None:
    try:
        from glide import GlideClient, GlideClientConfiguration, NodeAddress
    except ImportError:
        return None
    return await GlideClient.create(GlideClientConfiguration([NodeAddress("127.0.0.1", port)]))


def calls(name: str, client: Any) -> dict[str, Callable[[int], Awaitable[Any]]]:
    if name == "glide":
        from glide import Script
        script = Script(WRITE_LIKE)
        return {"get": lambda task: client.get(f"console:{task}"),
                "evalsha": lambda task: client.invoke_script(script, keys=write_keys(task), args=[str(a) for a in WRITE_ARGS])}
    script = client.register_script(WRITE_LIKE)
    return {"get": lambda task: client.get(f"console:{task}"),
            "evalsha": lambda task: script(write_keys(task), WRITE_ARGS)}


async def main(port: int, seconds: float, rounds: int) -> None:
    clients = redis_py_cases(port)
    glide = await glide_case(port)
    if glide is not None:
        clients["glide"] = glide
    cases = {(name, kind, tasks): call for name, client in clients.items()
             for kind, call in calls(name, client).items() for tasks in (1, 100)}
    for call in cases.values():  # warm up: connections, scripts loaded
        await rate(call, 1, 0.05)
    figures: dict[tuple[str, str, int], list[tuple[float, float]]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case, call in cases.items():
            figures[case].append(await rate(call, case[2], seconds))
    for (name, kind, tasks), runs in figures.items():
        print(json.dumps({"client": name, "call": kind, "at_once": tasks,
                          "per_s": round(statistics.median(r[0] for r in runs)),
                          "cpu_us_per_call": round(statistics.median(r[1] for r in runs), 1)}),
              flush=True)
    if glide is None:
        print(json.dumps({"client": "glide", "skipped": "pip install valkey-glide to compare it"}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each figure is the median")
    arguments = parser.parse_args()
    with redis_server() as server_port:
        asyncio.run(main(server_port, arguments.seconds, arguments.rounds))
