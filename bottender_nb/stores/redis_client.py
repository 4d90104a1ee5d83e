"""The store's redis-py client: one per process and event loop, its errors as ``StoreError``s.

redis-py, not valkey-glide, though glide measured faster here (GET+SET pairs/s, two runs on a
loaded 2-core VM, clients interleaved): 1.2-3.5x redis-py's rate for one loop, 4.4-7x for 100
concurrent loops (glide multiplexes one connection from Rust). Kept because the store's
``client`` and every option it passes on (URL, unix socket, ACL, TLS, cluster, retries) are
redis-py's, as are Bottender users' and this package's other Redis code; the 100-conversation
target is reported against redis-py's own floor instead (``benchmarks/bench_redis.py``).

A pool's connections belong to the process and loop that opened them (a forked child reading
its parent's replies loses updates): a child or another loop gets a client of its own. A child
never closes what it inherited; those clients stay, unused, in ``_INHERITED``.
"""

from __future__ import annotations

import asyncio
import os
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
        self._client: Any = None
        self._bound: tuple[int, asyncio.AbstractEventLoop | None] = (_forks[0], None)
        self.get()  # redis-py checks the options now; it connects on first use

    def get(self) -> Any:
        """The client of this process and (running) loop."""
        loop = _running_loop()
        forks, bound_loop = self._bound
        if self._client is None or forks != _forks[0] or (loop and bound_loop not in (None, loop)):
            if forks != _forks[0]:
                _INHERITED.append(self._client)
                self._on_fork()
            self._client, bound_loop = self._make(), None
            self._scripts: dict[str, Any] = {}  # Lua source -> its Script on this client
        self._bound = (_forks[0], bound_loop or loop)
        return self._client

    def _make(self) -> Any:
        url, host, port, password, db, cluster, options = self._arguments
        kind = RedisCluster if cluster else aioredis.Redis
        if url:
            return kind.from_url(url, **options)
        where = {"host": host, "port": port, "password": password} | ({} if cluster else {"db": db})
        return kind(**where, **options)

    async def close(self) -> None:
        """Close the client, if this process and loop opened it."""
        client, (forks, loop) = self._client, self._bound
        self._client = None
        if client is not None and forks == _forks[0] and loop in (None, _running_loop()):
            await client.aclose()

    async def run(self, script: str, keys: list[str], args: list[Any], key: str = "") -> Any:
        """Run a Lua ``script`` (EVALSHA, loaded once per client by redis-py's ``Script``)."""
        client = self.get()
        runner = self._scripts.get(script) or self._scripts.setdefault(
            script, client.register_script(script))
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
