"""Sessions in Redis, in Bottender's format, with no lost update across processes.

Format: key ``prefix + session id``, value the session's compact JSON; with ``expires_in``
the value is written with ``SETEX`` (seconds), without it with a plain ``SET`` -- exactly what
Bottender's ``RedisCacheStore`` does, so Bottender bots and this store read each other's keys.

Concurrency control: a **lock with expiry** per session, owned by a random token, kept in
``{tag}:lock:<key>`` (key layout and scripts: :mod:`.redis_keys`). Not optimistic
``WATCH``/``MULTI`` or a compare-and-set: those retry a conflicting event, and an action cannot
be retried -- it has already sent its replies. Every step is one Lua script, one round trip:

* *acquire* takes the lock and returns the value; *write* checks the token, ``SETEX``-es the
  value and renews the lock. A lone event costs these two round trips, and a release after.
* The lock outlives its event as a **lease** for the session's next event here, yet never
  starves another process, and is renewed while a slow action runs (:mod:`.redis_leases`).
* **Auto-pipelining** (:mod:`.redis_pipeline`) over two connections (:mod:`.redis_lanes`):
  many conversations share round trips. (Batches on two connections may overtake each
  other; a lock call that arrives before the release it follows just waits for that release
  to wake it.) Each connection is a lean socket of this package (:mod:`.redis_socket`,
  busy polling for ``busy_poll`` seconds while a reply is due) unless the client's options
  need redis-py's own (TLS and the like, :mod:`.redis_address`); a cluster goes through
  redis-py's cluster client.

A write that returned has been executed by Redis; that it survives a Redis crash is Redis's
persistence setting (``appendonly yes`` + ``appendfsync always`` makes it so).
Bottender bots take no lock: mixing them with this store on one live conversation can lose
updates, as two Bottender processes already do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Mapping
from typing import Any

from ..errors import StoreError, missing_extra
from ..record import dumps_utf8, loads
from .base import Clock, ExpiresIn, SessionStore
from .redis_address import lean_address
from .redis_history import RedisHistory
from .redis_busy_poll import BusyPoll
from .redis_keys import Script, glob_escape, is_lock_key
from .redis_lanes import DRIVER_ERRORS, ClusterExecutor, ConnectionExecutor, RedisPyConnection
from .redis_leases import UNKNOWN, Leases, RedisLock
from .redis_pipeline import Pipeline
from .redis_resp import Arguments
from .redis_socket import RespConnection

try:
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import RedisCluster
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import AuthenticationError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisClusterException
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.asyncio.retry import Retry
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, RedisClusterException)
_LANES = 2  # connections, each with at most one batch of script calls in flight


class RedisSessionStore(SessionStore):
    """Sessions as Bottender writes them to Redis; cross-process safe (see the module docstring).

    :param host, port, password, db: where Redis is (Bottender's ``stores.redis`` options);
        ``url="redis://..."`` instead, or ``client=`` a ready ``redis.asyncio`` client.
    :param cluster: talk to a Redis Cluster through ``host:port`` (or ``url``), any node.
    :param prefix: put before every session id in key names; ``all()`` lists only these keys.
    :param lock_timeout: seconds after which the lock of a process that stopped renewing it
        (crashed, or its loop blocked) expires.
    :param busy_poll: seconds a round trip keeps the event loop polling for its reply instead
        of sleeping (:mod:`.redis_socket`: on a VM, waking up costs more than a local Redis
        takes to answer); CPU is spent only while this process would otherwise sleep, and
        other tasks keep running. 0 turns it off.
    :param options: passed to the ``redis.asyncio.Redis`` / ``RedisCluster`` constructor.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 6379, password: str | None = None, db: int = 0,
        *, url: str | None = None, client: Any = None, cluster: bool = False, prefix: str = "",
        expires_in: ExpiresIn = None, clock: Clock = time.time, lock_timeout: float = 10.0,
        busy_poll: float = 0.001, **options: Any,
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        if lock_timeout <= 0:
            raise ValueError(f"lock_timeout must be positive seconds, not {lock_timeout!r}.")
        if "://" in host and url is None:
            url = host  # Bottender also takes a URL as its first argument
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.where = (url or f"{host}:{port}") if client is None else repr(client)
        self._client = client if client is not None else _make_client(
            host, port, password, db, url, cluster, options
        )
        self._owns_client = client is None
        self._cluster = isinstance(self._client, RedisCluster)
        self.history = RedisHistory(self._client, prefix)
        seconds = self.expires_in_seconds
        self._ttl = 0 if seconds is None else max(1, math.ceil(seconds))
        self._leases = Leases(self._call, self._wait, self.key, lock_timeout)
        self._busy_poll = BusyPoll(busy_poll)  # checks the value
        self.busy_poll = self._busy_poll.seconds
        heads = self._leases.heads(self._ttl)
        self._pipeline = Pipeline(
            [self._lane(heads) for _ in range(_LANES)], in_progress=lambda: self._leases.events
        )

    def __repr__(self) -> str:
        return f"RedisSessionStore({self.where!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        """The redis-py asyncio client (``Redis`` or ``RedisCluster``)."""
        return self._client

    def key(self, session_id: str) -> str:
        """The Redis key of a session: ``prefix + session_id``."""
        return self.prefix + session_id

    @property
    def lean(self) -> bool:
        """True when the lanes use this package's lean connection, not redis-py's."""
        return not self._cluster and lean_address(self._client) is not None

    def _lane(self, heads: dict[Script, list[Any]]) -> Any:
        """A pipeline lane: a lean connection where one can be made, else redis-py's."""
        if self._cluster:
            return ClusterExecutor(self._client, heads, self._error)
        address = lean_address(self._client)
        if address is None:
            connection: Any = RedisPyConnection(self._client, self._busy_poll)
        else:
            connection = RespConnection(address, self.busy_poll)
        return ConnectionExecutor(self._client, heads, self._error, connection)

    async def init(self) -> RedisSessionStore:
        """Check that Redis answers, so a wrong address fails at start with a clear message."""
        await self._command(self._client.ping())
        return self

    async def close(self) -> None:
        """Release the locks this process still holds and close the client it made."""
        await self._leases.close()
        await self._pipeline.close()
        if self._owns_client:
            await self._client.aclose()

    # -- the store primitives -------------------------------------------------------------

    async def read_for_event(self, session_id: str) -> dict[str, Any] | None:
        """Under this task's lock, after a runner's write: a shallow copy of what it wrote.

        The runner never changes nested values in place (see the base class), so the record
        it wrote in the lease's previous event stands for the stored JSON: no parse.
        """
        lease = self._leases.held(session_id)
        if lease is None or lease.record is None:
            return await self.read(session_id)
        return self._event_copy(lease.record)

    async def read(self, session_id: str) -> dict[str, Any] | None:
        """The live session; under this task's lock, the value the lock came with (no I/O)."""
        lease = self._leases.held(session_id)
        if lease is not None and lease.text is not UNKNOWN:
            record = _parse(lease.text, lease.key)  # the lock is ours: nobody changed it
        else:
            record = await self._read(session_id)
        return None if record is None or self.is_expired(record) else record

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        key = self.key(session_id)
        return _parse(await self._command(self._client.get(key)), key)

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Store ``session``'s JSON; under this task's lock, only while the lock is still ours."""
        text = dumps_utf8(session)  # the check, the copy and the value in one encode
        lease = self._leases.held(session_id)
        if lease is None:
            self._leases.forget_value(session_id)
            await self._command(self._set(self.key(session_id), text))
            return
        await self._leases.write(lease, text, session)

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        self._leases.forget_value(session_id)
        await self._command(self._client.delete(self.key(session_id)))

    async def _all(self) -> list[dict[str, Any]]:
        keys = [key for key in await self._command(self._scan()) if not is_lock_key(_text(key))]
        mget = self._client.mget_nonatomic if self._cluster else self._client.mget
        records = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            values = await self._command(mget(chunk))
            records += [
                loads(value, where=f"Redis key {_text(key)!r}")
                for key, value in zip(chunk, values) if value is not None
            ]
        return records

    async def _scan(self) -> list[Any]:
        match = glob_escape(self.prefix) + "*"
        keys = [key async for key in self._client.scan_iter(match=match, count=1000)]
        return list(dict.fromkeys(keys))  # SCAN may return a key twice

    def _set(self, key: str, text: bytes) -> Any:
        if self._ttl:
            return self._client.execute_command("SETEX", key, self._ttl, text)
        return self._client.set(key, text)

    # -- the session lock -----------------------------------------------------------------

    def lock(self, session_id: str) -> RedisLock:
        """Hold the session against other processes (and clients) until the event is written."""
        return self._leases.lock(session_id)

    async def _wait(self, key: str, timeout: float) -> None:
        """Block on a lock's wake list on the client's connection: no lane waits behind it."""
        await self._command(self._client.blpop([key], timeout=timeout))

    def _call(
        self, script: Script, keys: Arguments, args: Arguments, value: bytes | None = None
    ) -> Awaitable[Any]:
        """Run ``script`` for one session, auto-pipelined with the calls of other sessions."""
        return self._pipeline.call(script, keys, args, value)

    def _error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, AuthenticationError):
            message = (
                f"Redis at {self.where} refused to log in ({exc}); check password= (and "
                "username=, or the URL's user:password@) against the server's requirepass/ACL."
            )
        elif isinstance(exc, _UNREACHABLE):
            message = (
                f"Cannot reach Redis at {self.where} ({exc}). Is redis-server running there, "
                "and are host, port and password right?"
            )
        else:
            message = f"Redis at {self.where} refused a session command: {exc}"
        error = StoreError(message)
        error.__cause__ = exc
        return error

    async def _command(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except DRIVER_ERRORS as exc:
            raise self._error(exc) from exc


def _make_client(
    host: str, port: int, password: str | None, db: int, url: str | None, cluster: bool,
    options: dict[str, Any],
) -> Any:
    # redis-py's default retries take ~5 s to report a server that is down; keep it short.
    options.setdefault("retry", Retry(ExponentialBackoff(cap=0.2, base=0.02), 3))
    if cluster:
        if db:
            raise ValueError("Redis Cluster has only database 0; drop db= or cluster=True.")
        if url:
            return RedisCluster.from_url(url, **options)
        return RedisCluster(host=host, port=port, password=password, **options)
    if url:
        return aioredis.Redis.from_url(url, **options)
    return aioredis.Redis(host=host, port=port, password=password, db=db, **options)


def _parse(text: str | bytes | None, key: str) -> dict[str, Any] | None:
    return None if text is None else loads(text, where=f"Redis key {key!r}")


def _text(key: Any) -> str:
    return key.decode(errors="replace") if isinstance(key, bytes) else key
