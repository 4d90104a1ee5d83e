"""The store's redis-py client: one per process and event loop, its errors as ``StoreError``s.

redis-py, not valkey-glide, by measurement (``benchmarks/bench_redis_clients.py``): glide
makes 100 calls at once about twice as fast (its Rust core pipelines them on a thread of its
own), but one call after another about 0.8x as fast (the hop to that thread), so it would
trade the one-conversation rate for the many-conversation one. And every option users pass
on (URL, unix socket, ACL, TLS, cluster, retries) and ``store.client`` would change: glide
takes configuration objects of its own. Of redis-py's CPU per call, two settings of the store's
cost the most on Python 3.11: ``socket_timeout`` (5 s, redis-py's default; a task of its own
per send) and the ``BlockingConnectionPool`` (a condition and a timer per call). Both stay:
without the first, a stalled server hangs an event; without the second, event 101 of 101 at
once fails with "Too many connections".

A pool's connections belong to the process and loop that opened them (a forked child reading
its parent's replies loses updates): a child gets clients of its own, and so does each loop
(the notebook's, and a webhook server's in its own thread, at once). A child never closes what
it inherited; those clients stay, unused, in ``_INHERITED``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

from ..errors import CorruptSessionError, StoreError, missing_extra

try:
    import redis.asyncio as aioredis
    from redis import exceptions as rx
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

_INHERITED: list[Any] = []
_forks = [0]  # forks since this module was imported: a child's count differs from its parent's
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


class RedisClient:
    """Makes redis-py's client where it is needed, runs the scripts, and words its errors."""

    def __init__(
        self, url: str | None, host: str, port: int, password: str | None, db: int,
        cluster: bool, options: dict[str, Any], on_fork: Callable[[], None],
    ) -> None:
        # redis-py's default retries take seconds to report a server that is down: short ones.
        options.setdefault("retry", Retry(ExponentialBackoff(cap=0.2, base=0.02), 3))
        self._arguments = (url, host, port, password, db, cluster, options)
        self.where = url or f"{host}:{port}"
        self._on_fork = on_fork
        self._forks = _forks[0]
        # loop -> (client, Lua source -> its Script): a client per running loop (the notebook's,
        # a webhook server's in its thread); None: made before any loop ran, taken by the first
        self._clients: dict[asyncio.AbstractEventLoop | None, tuple[Any, dict[str, Any]]] = {}
        self._mutex = threading.Lock()
        self.get()  # redis-py checks the options now; it connects on first use

    def get(self) -> Any:
        """The client of this process and (running) loop."""
        return self._entry()[0]

    def _entry(self) -> tuple[Any, dict[str, Any]]:
        loop = _running_loop()
        with self._mutex:
            if self._forks != _forks[0]:  # a forked child: its parent's clients are not its own
                _INHERITED.extend(client for client, _ in self._clients.values())
                self._clients, self._forks = {}, _forks[0]
                self._on_fork()
            entry = self._clients.get(loop)
            if entry is None:
                unbound = self._clients.pop(None, None) if loop is not None else None
                entry = self._clients[loop] = unbound or (self._make(), {})
                for closed in [other for other in self._clients if other and other.is_closed()]:
                    del self._clients[closed]  # a loop that ended (asyncio.run per call)
            return entry

    def _make(self) -> Any:
        url, host, port, password, db, cluster, options = self._arguments
        kind = RedisCluster if cluster else aioredis.Redis
        if url:
            client = kind.from_url(url, **options)
        else:
            where = {"host": host, "port": port, "password": password}
            client = kind(**where, **({} if cluster else {"db": db}), **options)
        if cluster or "connection_pool" in options:
            return client
        # More events at once than the pool has connections wait for one, as redis-py's
        # BlockingConnectionPool does, instead of failing with "Too many connections".
        pool = client.connection_pool
        waiting = aioredis.BlockingConnectionPool(
            connection_class=pool.connection_class, max_connections=pool.max_connections,
            **pool.connection_kwargs)
        blocking = aioredis.Redis(connection_pool=waiting,
                                  single_connection_client=client.single_connection_client)
        blocking.auto_close_connection_pool = True
        return blocking

    async def close(self) -> None:
        """Close the client of this process and loop, if it opened one."""
        with self._mutex:
            entry = None if self._forks != _forks[0] else self._clients.pop(_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()

    async def run(self, script: str, keys: list[str], args: list[Any], key: str = "") -> Any:
        """Run a Lua ``script`` (EVALSHA, loaded once per client by redis-py's ``Script``)."""
        client, scripts = self._entry()
        runner = scripts.get(script) or scripts.setdefault(script, client.register_script(script))
        return await self.command(runner(keys, args), key)

    async def command(self, awaitable: Any, key: str = "") -> Any:
        """Await a redis-py call; its failure as a StoreError (``key``: the session key)."""
        try:
            return await awaitable
        except (rx.RedisError, rx.RedisClusterException, OSError) as exc:
            raise await self._error(exc, key) from exc

    async def _error(self, exc: BaseException, key: str) -> StoreError:
        if isinstance(exc, rx.ResponseError) and "WRONGTYPE" in str(exc) and key:
            try:
                kind = key_text(await self.get().type(key))
            except (rx.RedisError, OSError):
                kind = "value of another type"
            return CorruptSessionError(
                f"Redis key {key!r} holds a {kind}, not a session string; delete it, "
                "or give this store another prefix."
            )
        message = next(
            (text for kinds, text in _MESSAGES if isinstance(exc, kinds)),
            "Redis at {where} refused a session command: {exc}",
        )
        timeout = self._arguments[-1].get("socket_timeout")
        return StoreError(message.format(where=self.where, exc=exc, timeout=timeout))


_MESSAGES: list[tuple[Any, str]] = [  # the first whose class matches names the cause
    (rx.BusyLoadingError, "Redis at {where} is still loading its data (it restarted); retry soon."),
    (rx.AuthenticationError, "Redis at {where} refused to log in ({exc}); check password= (and "
     "username=, or the URL's user:password@) against the server's requirepass/ACL."),
    (rx.TimeoutError, "Redis at {where} did not answer within socket_timeout={timeout}s ({exc}); "
     "is it overloaded or stalled? Raise socket_timeout if it is just slow."),
    ((rx.ConnectionError, OSError, rx.RedisClusterException), "Cannot reach Redis at {where} "
     "({exc}). Is redis-server running there, and are host, port and password right?"),
]


def key_text(key: Any) -> str:
    """A key redis-py returned, as str (bytes that are not UTF-8 kept as surrogates)."""
    return key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
