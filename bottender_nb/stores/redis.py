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
* The lock is a **lease**: after a write it is kept for ``0.25`` s, and released as soon as
  the loop has gone round without the session's next event in this process; back-to-back
  events reuse it and the value they just wrote, so they cost one round trip each (the
  write). A stopped loop (console mode between lines) holds nobody up for longer than that.
* A lease never starves other processes: the first one that finds the lock taken is promised
  the next turn (``{tag}:next:<key>``; nobody else may take the lock) and blocks on
  ``{tag}:wake:<key>``; the holder's next write sees the promise, hands the lock on and wakes
  it, in the same script.
* **Auto-pipelining** (:mod:`.redis_pipeline`) over two connections (:mod:`.redis_lanes`):
  many conversations share round trips. (Batches on two connections may overtake each
  other; a lock call that arrives before the release it follows just waits for that release
  to wake it.) Each connection is a lean socket of this package (:mod:`.redis_socket`,
  busy polling for ``busy_poll`` seconds while a reply is due) unless the client's options
  need redis-py's own (TLS and the like, :mod:`.redis_address`); a cluster goes through
  redis-py's cluster client.
* During an event the lock expires ``lock_timeout`` seconds after it was last renewed, so a
  crashed process cannot wedge a session; a timer renews it before that while the event runs,
  so a slow action keeps its lock. A write whose lock was lost (the loop was blocked past
  ``lock_timeout``) is refused with a StoreError, never applied over another process's write.

A write that returned has been executed by Redis; that it survives a Redis crash is Redis's
persistence setting (``appendonly yes`` + ``appendfsync always`` makes it so).
Bottender bots take no lock: mixing them with this store on one live conversation can lose
updates, as two Bottender processes already do.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import math
import os
import random
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptSessionError, StoreError, missing_extra
from ..session.record import CheckedRecord, dumps, loads
from .base import Clock, ExpiresIn, SessionStore
from .redis_keys import ACQUIRE, NEXT, RELEASE, RENEW, WAKE, WRITE, Script, glob_escape
from .redis_keys import is_lock_key, lock_key
from .redis_address import lean_address
from .redis_busy_poll import BusyPoll
from .redis_lanes import DRIVER_ERRORS, ClusterExecutor, ConnectionExecutor, RedisPyConnection
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
_UNKNOWN: Any = object()  # a lease whose cached value must be read again
_PROMISE_MS = 100  # how long a waiting process's claim on the next turn lasts between tries
_LEASE_MS = 250  # how long a lock outlives its event's write, for the session's next event
_WAKE_WAIT = 0.05  # seconds the next in line blocks on the wake list before trying again


@dataclass(slots=True)
class _Lease:
    """A session lock this process holds: its token and the value as of the last step."""

    session_id: str
    key: str
    keys: Arguments  # key, lock, next, wake: what acquire and write take
    token: Arguments
    text: Any  # the stored JSON (str/bytes), None when absent, _UNKNOWN when to be re-read
    valid_until: float  # time.monotonic() before which Redis cannot have expired the lock
    ttl: float = 0.0  # seconds of life the lock was last given (a lease, or lock_timeout)
    in_use: bool = True
    lost: bool = False
    idle_since: int = 0  # the sweep count when the lease last went idle
    renewing: bool = False
    record: CheckedRecord | None = None  # the runner's record that ``text`` was made from



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
        seconds = self.expires_in_seconds
        self._ttl = 0 if seconds is None else max(1, math.ceil(seconds))
        self._lock_ms = max(1, int(lock_timeout * 1000))
        self._leases: dict[str, _Lease] = {}
        self._held: contextvars.ContextVar[_Lease | None] = contextvars.ContextVar(
            "bottender_nb_redis_lease", default=None
        )
        heads = {
            ACQUIRE: [self._lock_ms, _PROMISE_MS], WRITE: [_LEASE_MS, self._ttl, _PROMISE_MS],
            RENEW: [self._lock_ms], RELEASE: [_PROMISE_MS],
        }
        self._busy_poll = BusyPoll(busy_poll)  # checks the value
        self.busy_poll = self._busy_poll.seconds
        self._events = 0  # events in progress under this store's locks
        self._pipeline = Pipeline(
            [self._lane(heads) for _ in range(_LANES)], crowded=lambda: self._events > 1
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle: list[_Lease] = []
        self._sweeper: asyncio.Handle | None = None
        self._sweeps = 0
        self._guardian: asyncio.TimerHandle | None = None
        self._tokens = (f"{os.getpid()}.{os.urandom(6).hex()}.{n}" for n in itertools.count())

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
        for timer in (self._sweeper, self._guardian):
            if timer is not None:
                timer.cancel()
        self._sweeper = self._guardian = None
        while self._tasks:  # releases and renewals under way
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        leases, self._leases, self._idle = list(self._leases.values()), {}, []
        try:
            await self._release(leases)
        except StoreError:
            pass  # the locks expire by themselves after lock_timeout
        await self._pipeline.close()
        if self._owns_client:
            await self._client.aclose()

    # -- the store primitives -------------------------------------------------------------

    async def read_for_event(self, session_id: str) -> dict[str, Any] | None:
        """Under this task's lock, after a runner's write: a shallow copy of what it wrote.

        The runner never changes nested values in place (see the base class), so the record
        it wrote in the lease's previous event stands for the stored JSON: no parse.
        """
        lease = self._held.get()
        if lease is None or lease.session_id != session_id or lease.record is None:
            return await self.read(session_id)
        record = lease.record
        if self.expires_in is not None and self.is_expired(record):
            return None
        return dict(record)

    async def read(self, session_id: str) -> dict[str, Any] | None:
        """The live session; under this task's lock, the value the lock came with (no I/O)."""
        lease = self._held.get()
        if lease is not None and lease.session_id == session_id and lease.text is not _UNKNOWN:
            record = _parse(lease.text, lease.key)  # the lock is ours: nobody changed it
        else:
            record = await self._read(session_id)
        return None if record is None or self.is_expired(record) else record

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        key = self.key(session_id)
        return _parse(await self._command(self._client.get(key)), key)

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Store ``session``'s JSON; under this task's lock, only while the lock is still ours."""
        text = _utf8(dumps(session))  # the check, the copy and the value in one encode
        lease = self._held.get()
        if lease is None or lease.session_id != session_id:
            self._forget_value(session_id)
            await self._command(self._set(self.key(session_id), text))
            return
        sent = time.monotonic()
        try:
            written = await self._call(WRITE, lease.keys, lease.token, text)
        except BaseException:
            lease.text, lease.record = _UNKNOWN, None  # applied or not: read it again next time
            raise
        if written == 2:  # handed on to a waiting process: no lease
            lease.lost = True
        if not written:
            self._drop(lease)
            raise StoreError(
                f"The lock of session {session_id!r} expired before its write, so another "
                f"process may have changed it; the write was refused. The event loop was "
                f"blocked for longer than lock_timeout={self.lock_timeout}s -- raise it."
            )
        lease.text, lease.valid_until, lease.ttl = text, sent + _LEASE_MS / 1000, _LEASE_MS / 1000
        lease.record = session if type(session) is CheckedRecord else None

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        self._forget_value(session_id)
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

    def lock(self, session_id: str) -> _RedisLock:
        """Hold the session against other processes (and clients) until the event is written."""
        return _RedisLock(self, session_id)

    def _reuse(self, session_id: str) -> _Lease | None:
        """The previous event's lease, if it lives long enough for this event: no round trip."""
        lease = self._leases.get(session_id)
        if lease is None or lease.in_use or lease.lost or (
            time.monotonic() >= lease.valid_until - _LEASE_MS / 2000
        ):
            return None
        lease.in_use = True
        if self._guardian is None:
            self._guard()
        return lease

    async def _acquire(self, session_id: str) -> _Lease:
        lease = self._leases.get(session_id)
        if lease is None or lease.in_use or lease.lost:
            key = self.key(session_id)
            lease = _Lease(
                session_id, key,
                Arguments(key, lock_key(key), lock_key(key, NEXT), lock_key(key, WAKE)),
                Arguments(next(self._tokens)), _UNKNOWN, 0.0,
            )
        lease.in_use = True  # a lapsed lease of ours is re-taken with its own token
        try:
            await self._take(lease)
        except BaseException:
            lease.in_use = False
            raise
        self._leases[session_id] = lease
        self._guard()
        return lease

    async def _take(self, lease: _Lease) -> None:
        """Wait until the lock is ours, polling with a growing, jittered pause.

        The first waiting process is promised the next turn: the holder hands the lock on
        after its current event instead of keeping a lease, and nobody else may take it.
        """
        delay = 0.0005
        while True:
            sent = time.monotonic()
            got, value = await self._call(ACQUIRE, lease.keys, lease.token)
            if got == 2:
                raise CorruptSessionError(
                    f"Redis key {lease.key!r} holds a {_text(value)}, not a session's JSON "
                    "string; delete it (or choose another prefix)."
                )
            if got:
                lease.text, lease.record, lease.lost = value, None, False
                lease.valid_until, lease.ttl = sent + self.lock_timeout, self.lock_timeout
                return
            if value:  # promised the next turn: wait to be woken (or try again soon)
                await self._command(self._client.blpop([lease.keys.values[3]], timeout=_WAKE_WAIT))
            else:
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.02)

    def _done(self, lease: _Lease) -> None:
        """The event is over: keep the lease a loop tick, for the session's next event here."""
        lease.in_use = False
        if lease.lost:
            self._drop(lease)
            return
        lease.idle_since = self._sweeps
        self._idle.append(lease)
        if self._sweeper is None:  # call_soon: next tick, like call_later(0) but no timer heap
            self._sweeper = asyncio.get_running_loop().call_soon(self._sweep)

    def _sweep(self) -> None:
        """Release the leases left idle for a whole tick (one timer per tick, not per event)."""
        self._sweeper, self._sweeps = None, self._sweeps + 1
        idle, self._idle = self._idle, []
        released = []
        for lease in idle:
            if lease.in_use or self._leases.get(lease.session_id) is not lease:
                continue
            if lease.idle_since == self._sweeps - 1:
                self._idle.append(lease)  # idle since the last sweep only: one more round
            else:
                del self._leases[lease.session_id]
                released.append(lease)
        if released:
            self._background(self._release(released))
        if self._idle:
            self._sweeper = asyncio.get_running_loop().call_soon(self._sweep)

    async def _release(self, leases: list[_Lease]) -> None:
        await asyncio.gather(*(
            self._call(RELEASE, Arguments(*lease.keys.values[1:]), lease.token) for lease in leases
        ))

    def _drop(self, lease: _Lease) -> None:
        lease.lost = True
        if self._leases.get(lease.session_id) is lease:
            del self._leases[lease.session_id]

    def _forget_value(self, session_id: str) -> None:
        lease = self._leases.get(session_id)
        if lease is not None:
            lease.text, lease.record = _UNKNOWN, None  # changed outside the lease: read again

    def _guard(self) -> None:
        """Make sure the locks of running events are renewed before they can expire."""
        if self._guardian is None:
            period = min(0.05, self.lock_timeout / 4)
            self._guardian = asyncio.get_running_loop().call_later(period, self._renew_due)

    def _renew_due(self) -> None:
        # One timer for all running events: renew a lock once less than half its life is left.
        self._guardian = None
        now, running, due = time.monotonic(), False, []
        for lease in self._leases.values():
            if lease.in_use and not lease.lost:
                running = True
                if lease.valid_until - now < lease.ttl / 2 and not lease.renewing:
                    lease.renewing = True
                    due.append(lease)
        if due:
            self._background(asyncio.gather(*map(self._renew, due)))
        if running:
            self._guard()

    async def _renew(self, lease: _Lease) -> None:
        sent = time.monotonic()
        try:
            if await self._call(RENEW, Arguments(lease.keys.values[1]), lease.token):
                lease.valid_until = max(lease.valid_until, sent + self.lock_timeout)
                lease.ttl = self.lock_timeout
            else:
                lease.lost = True  # its write will be refused
        finally:
            lease.renewing = False

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(_finished(self._tasks))

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


class _RedisLock:
    """``async with store.lock(id)``: the session's lease, visible to this task's read/write."""

    __slots__ = ("_store", "_session_id", "_lease", "_token")

    def __init__(self, store: RedisSessionStore, session_id: str) -> None:
        self._store = store
        self._session_id = session_id

    async def __aenter__(self) -> None:
        store = self._store
        store._events += 1
        try:
            lease = store._reuse(self._session_id)
            if lease is None:
                lease = await store._acquire(self._session_id)
        except BaseException:
            store._events -= 1
            raise
        self._lease = lease
        self._token = store._held.set(lease)

    async def __aexit__(self, *exc_info: object) -> None:
        store = self._store
        store._events -= 1
        store._held.reset(self._token)
        store._done(self._lease)


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



def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: escape it, as JavaScript's JSON does
        return json.dumps(json.loads(text), separators=(",", ":")).encode()


def _parse(text: str | bytes | None, key: str) -> dict[str, Any] | None:
    return None if text is None else loads(text, where=f"Redis key {key!r}")


def _text(key: Any) -> str:
    return key.decode(errors="replace") if isinstance(key, bytes) else key


def _finished(tasks: set[asyncio.Task[Any]]) -> Any:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed release or renewal only lets the lock expire

    return done
