"""Sessions in Redis, in Bottender's format, with no lost update across processes.

Format: key ``prefix + session id``, value the session's compact JSON; with ``expires_in``
the value is written with ``SETEX`` (seconds), without it with a plain ``SET`` -- exactly what
Bottender's ``RedisCacheStore`` does, so Bottender bots and this store read each other's keys.

Concurrency control: a **lock with expiry**, owned by a random token, one lock key per session
(``{tag}:lock:<key>``, whose hash tag puts it in the session key's cluster slot). Not optimistic
``WATCH``/``MULTI`` or compare-and-set: those retry a conflicting event, and an action cannot
be retried -- it has already sent its replies. Each step is one Lua script, so:

* an event costs two round trips: *acquire* (take the lock and return the value) and *write*
  (check the token, ``SETEX`` the value, renew the lock);
* the lock is a **lease**: it is released one loop tick after the event, unless the next event
  of the session in this process has started by then -- that one reuses the lease and the
  value it just wrote, so back-to-back events cost one round trip;
* script calls made in the same loop tick go out together, one ``EVALSHA`` per script for many
  sessions (ioredis calls this auto-pipelining), so many conversations share round trips;
* the lock expires ``lock_timeout`` seconds after it was last renewed: a crashed or stopped
  process cannot wedge a session; a running one renews its locks every ``lock_timeout / 3``,
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
import functools
import itertools
import json
import math
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError, missing_extra
from ..session.record import dumps, loads
from .base import Clock, ExpiresIn, SessionStore

try:
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import RedisCluster
    from redis.backoff import ExponentialBackoff
    from redis.crc import key_slot
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import NoScriptError, RedisClusterException, RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

LOCK, NEXT, WAKE = ":lock:", ":next:", ":wake:"  # a session's lock keys: "{tag}" + mark + key
_DRIVER_ERRORS = (RedisError, RedisClusterException, OSError)
_BATCH = 256  # sessions per script call: a long script would block Redis for everyone
_UNKNOWN: Any = object()  # a lease whose cached value must be read again
_PROMISE_MS = 100  # how long a waiting process's claim on the next turn lasts between tries
_WAKE_WAIT = 0.05  # seconds the next in line blocks on the wake list before trying again

# KEYS per session: key, lock, next, wake. ARGV: lock ms, promise ms, then a token each.
# Free and not promised to another process -> take it: {1, value}. Else wait, as the one
# promised the next turn if nobody is yet: {0, 1 if promised to us}.
_ACQUIRE = """
local lock_ms, promise_ms, out = ARGV[1], ARGV[2], {}
for k = 1, #KEYS / 4 do
  local lock, next, token = KEYS[4 * k - 2], KEYS[4 * k - 1], ARGV[k + 2]
  local owner, promised = redis.call('GET', lock), redis.call('GET', next)
  if (owner == false or owner == token) and (promised == false or promised == token) then
    redis.call('SET', lock, token, 'PX', lock_ms)
    if promised then redis.call('DEL', next, KEYS[4 * k]) end
    out[k] = {1, redis.call('GET', KEYS[4 * k - 3])}
  else
    if promised == false or promised == token then
      redis.call('SET', next, token, 'PX', promise_ms)
      promised = token
    end
    out[k] = {0, promised == token and 1 or 0}
  end
end
return out
"""
# KEYS per session: key, lock, next, wake. ARGV: lock ms, ttl s, promise ms, then token and
# value each. Still ours -> write, then keep the lock as a lease (1) or, when another process
# waits, hand it on and wake that process (2). Not ours -> write nothing (0).
_WRITE = """
local ms, ttl, promise_ms, out = ARGV[1], tonumber(ARGV[2]), ARGV[3], {}
for k = 1, #KEYS / 4 do
  local key, lock, wake = KEYS[4 * k - 3], KEYS[4 * k - 2], KEYS[4 * k]
  if redis.call('GET', lock) == ARGV[2 * k + 2] then
    if ttl > 0 then redis.call('SETEX', key, ttl, ARGV[2 * k + 3])
    else redis.call('SET', key, ARGV[2 * k + 3]) end
    if redis.call('EXISTS', KEYS[4 * k - 1]) == 1 then
      redis.call('DEL', lock)
      redis.call('RPUSH', wake, 1)
      redis.call('PEXPIRE', wake, promise_ms)
      out[k] = 2
    else
      redis.call('PEXPIRE', lock, ms)
      out[k] = 1
    end
  else
    out[k] = 0
  end
end
return out
"""
# KEYS per session: lock. ARGV: lock ms, then a token each.
_RENEW = """
local ms, out = ARGV[1], {}
for k = 1, #KEYS do
  out[k] = 0
  if redis.call('GET', KEYS[k]) == ARGV[k + 1] then out[k] = redis.call('PEXPIRE', KEYS[k], ms) end
end
return out
"""
# KEYS per session: lock, next, wake. ARGV: promise ms, then a token each.
_RELEASE = """
for k = 1, #KEYS / 3 do
  if redis.call('GET', KEYS[3 * k - 2]) == ARGV[k + 1] then
    redis.call('DEL', KEYS[3 * k - 2])
    if redis.call('EXISTS', KEYS[3 * k - 1]) == 1 then
      redis.call('RPUSH', KEYS[3 * k], 1)
      redis.call('PEXPIRE', KEYS[3 * k], ARGV[1])
    end
  end
end
return #KEYS
"""


def lock_key(key: str, mark: str = LOCK) -> str:
    """A lock key of session key ``key``: ``{tag}:lock:<key>``, in ``key``'s cluster slot.

    ``mark=NEXT`` names the key that promises the next turn to a waiting process, and
    ``mark=WAKE`` the list that process blocks on until the lock is handed to it.
    """
    return "{" + _hash_tag(key) + "}" + mark + key


def is_lock_key(key: str) -> bool:
    """True for a key :func:`lock_key` made: listing sessions skips it."""
    end = key.find("}")
    if not key.startswith("{"):
        return False
    for mark in (LOCK, NEXT, WAKE):
        if key.startswith(mark, end + 1) and lock_key(key[end + 1 + len(mark):], mark) == key:
            return True
    return False


def _hash_tag(key: str) -> str:
    """A brace-free string that Redis Cluster hashes to the slot of ``key``."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1:end]  # the key's own hash tag
    if key and "}" not in key:
        return key  # the whole key is hashed, and "{key}" hashes it alike
    return _tag_for_slot(key_slot(key.encode()))


@functools.lru_cache(maxsize=1024)
def _tag_for_slot(slot: int) -> str:
    # Only "" and keys holding "}" without a hash tag get here; ~16k tries find a number.
    return next(str(n) for n in itertools.count() if key_slot(str(n).encode()) == slot)


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis ``MATCH`` pattern."""
    return "".join("\\" + char if char in "\\*?[]" else char for char in text)


@dataclass(slots=True)
class _Lease:
    """A session lock this process holds: its token and the value as of the last step."""

    session_id: str
    key: str
    lock: str
    next: str
    wake: str
    token: str
    text: Any  # the stored JSON (str/bytes), None when absent, _UNKNOWN when to be re-read
    renewed: float  # time.monotonic() just before the lock's expiry was last set
    in_use: bool = True
    lost: bool = False


@dataclass(slots=True)
class _Call:
    script: _Script
    keys: tuple[str, ...]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class _Script:
    """A Lua script called with one fixed ``head`` of arguments and per-session keys and args."""

    def __init__(self, source: str) -> None:
        import hashlib

        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


ACQUIRE, WRITE, RENEW, RELEASE = map(_Script, (_ACQUIRE, _WRITE, _RENEW, _RELEASE))


class RedisSessionStore(SessionStore):
    """Sessions as Bottender writes them to Redis; cross-process safe (see the module docstring).

    :param host, port, password, db: where Redis is (Bottender's ``stores.redis`` options);
        ``url="redis://..."`` instead, or ``client=`` a ready ``redis.asyncio`` client.
    :param cluster: talk to a Redis Cluster through ``host:port`` (or ``url``), any node.
    :param prefix: put before every session id in key names; ``all()`` lists only these keys.
    :param lock_timeout: seconds after which the lock of a process that stopped renewing it
        (crashed, or its loop blocked) expires.
    :param options: passed to the ``redis.asyncio.Redis`` / ``RedisCluster`` constructor.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 6379, password: str | None = None, db: int = 0,
        *, url: str | None = None, client: Any = None, cluster: bool = False, prefix: str = "",
        expires_in: ExpiresIn = None, clock: Clock = time.time, lock_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        if lock_timeout <= 0:
            raise ValueError(f"lock_timeout must be a positive number of seconds, not {lock_timeout!r}.")
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
        self._pending: list[_Call] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._renewer: asyncio.TimerHandle | None = None
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

    async def init(self) -> RedisSessionStore:
        """Check that Redis answers, so a wrong address fails at start with a clear message."""
        await self._command(self._client.ping())
        return self

    async def close(self) -> None:
        """Release the locks this process still holds and close the client it made."""
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        leases, self._leases = list(self._leases.values()), {}
        # A failed release only leaves the lock to expire after lock_timeout.
        await asyncio.gather(
            *(self._call(RELEASE, _keys(lease)[1:], [lease.token]) for lease in leases),
            return_exceptions=True,
        )
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()

    # -- the store primitives -------------------------------------------------------------

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        key = self.key(session_id)
        lease = self._held.get()
        if lease is not None and lease.session_id == session_id and lease.text is not _UNKNOWN:
            text = lease.text  # we hold the lock, so the value is the one we last saw
        else:
            text = await self._command(self._client.get(key))
        return None if text is None else loads(text, where=f"Redis key {key!r}")

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
            written = await self._call(WRITE, _keys(lease), [lease.token, text])
        except BaseException:
            lease.text = _UNKNOWN  # applied or not: the next event reads it again
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
        lease.text, lease.renewed = text, sent

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        self._forget_value(session_id)
        await self._command(self._client.delete(self.key(session_id)))

    async def _all(self) -> list[dict[str, Any]]:
        keys = [
            key for key in map(_text, await self._command(self._scan()))
            if not is_lock_key(key)
        ]
        records = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            mget = self._client.mget_nonatomic if self._cluster else self._client.mget
            values = await self._command(mget(chunk))
            records += [
                loads(value, where=f"Redis key {key!r}")
                for key, value in zip(chunk, values) if value is not None
            ]
        return records

    async def _scan(self) -> list[Any]:
        match = glob_escape(self.prefix) + "*"
        return [key async for key in self._client.scan_iter(match=match, count=1000)]

    def _set(self, key: str, text: bytes) -> Any:
        if self._ttl:
            return self._client.execute_command("SETEX", key, self._ttl, text)
        return self._client.set(key, text)

    # -- the session lock -----------------------------------------------------------------

    def lock(self, session_id: str) -> _RedisLock:
        """Hold the session against other processes (and clients) until the event is written."""
        return _RedisLock(self, session_id)

    async def _acquire(self, session_id: str) -> _Lease:
        lease = self._leases.get(session_id)
        if lease is not None and not lease.in_use and not lease.lost and (
            time.monotonic() - lease.renewed < self.lock_timeout / 2
        ):
            lease.in_use = True  # the previous event's lease: no round trip
            return lease
        if lease is None or lease.in_use or lease.lost:
            key = self.key(session_id)
            lease = _Lease(
                session_id, key, lock_key(key), lock_key(key, NEXT), lock_key(key, WAKE),
                next(self._tokens), _UNKNOWN, 0.0,
            )
        lease.in_use = True  # a lapsed lease of ours is re-taken with its own token
        try:
            await self._take(lease)
        except BaseException:
            lease.in_use = False
            raise
        self._leases[session_id] = lease
        self._start_renewing()
        return lease

    async def _take(self, lease: _Lease) -> None:
        """Wait until the lock is ours, polling with a growing, jittered pause.

        The first waiting process is promised the next turn: the holder hands the lock on
        after its current event instead of keeping a lease, and nobody else may take it.
        """
        delay = 0.0005
        while True:
            sent = time.monotonic()
            got, value = await self._call(ACQUIRE, _keys(lease), [lease.token])
            if got:
                lease.text, lease.renewed, lease.lost = value, sent, False
                return
            if value:  # promised the next turn: wait to be woken (or try again soon)
                await self._command(self._client.blpop([lease.wake], timeout=_WAKE_WAIT))
            else:
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.02)

    def _done(self, lease: _Lease) -> None:
        """The event is over: keep the lease for one loop tick, for the session's next event."""
        lease.in_use = False
        if lease.lost:
            self._drop(lease)
        else:
            asyncio.get_running_loop().call_later(0, self._release_if_idle, lease)

    def _release_if_idle(self, lease: _Lease) -> None:
        if lease.in_use or self._leases.get(lease.session_id) is not lease:
            return
        del self._leases[lease.session_id]
        self._background(self._call(RELEASE, _keys(lease)[1:], [lease.token]))

    def _drop(self, lease: _Lease) -> None:
        lease.lost = True
        if self._leases.get(lease.session_id) is lease:
            del self._leases[lease.session_id]

    def _forget_value(self, session_id: str) -> None:
        lease = self._leases.get(session_id)
        if lease is not None:
            lease.text = _UNKNOWN  # written or deleted outside the lease: read it again

    def _start_renewing(self) -> None:
        if self._renewer is None:
            loop = asyncio.get_running_loop()
            self._renewer = loop.call_later(self.lock_timeout / 3, self._renew_all)

    def _renew_all(self) -> None:
        self._renewer = None
        leases = list(self._leases.values())
        if leases:
            self._background(self._renew(leases))
            self._start_renewing()

    async def _renew(self, leases: list[_Lease]) -> None:
        sent = time.monotonic()
        renewed = await asyncio.gather(
            *(self._call(RENEW, [lease.lock], [lease.token]) for lease in leases)
        )
        for lease, ok in zip(leases, renewed):
            if ok:
                lease.renewed = max(lease.renewed, sent)
            else:
                lease.lost = True

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(_finished(self._tasks))

    # -- auto-pipelined script calls ------------------------------------------------------

    def _call(self, script: _Script, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Run ``script`` for one session; calls of the same tick share one EVALSHA."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(_Call(script, tuple(keys), tuple(args), future))
        return future

    def _flush(self) -> None:
        groups: dict[tuple[_Script, int], list[_Call]] = {}
        for call in self._pending:
            slot = key_slot(call.keys[0].encode()) if self._cluster else 0
            groups.setdefault((call.script, slot), []).append(call)
        self._pending = []
        for (script, _slot), calls in groups.items():
            for start in range(0, len(calls), _BATCH):
                self._background(self._send(script, calls[start:start + _BATCH]))

    async def _send(self, script: _Script, calls: list[_Call]) -> None:
        keys = [key for call in calls for key in call.keys]
        head = {
            ACQUIRE: [self._lock_ms, _PROMISE_MS], WRITE: [self._lock_ms, self._ttl, _PROMISE_MS],
            RENEW: [self._lock_ms], RELEASE: [_PROMISE_MS],
        }
        args = head.get(script, []) + [arg for call in calls for arg in call.args]
        try:
            try:
                results = await self._client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:  # a restarted or flushed server: send the source once
                results = await self._client.eval(script.source, len(keys), *keys, *args)
        except asyncio.CancelledError:
            for call in calls:
                call.future.cancel()
            raise
        except Exception as exc:  # every caller hears of it: none may wait forever
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(
                        _wrap(self, exc) if isinstance(exc, _DRIVER_ERRORS) else exc
                    )
            return
        if script is RELEASE:
            results = [None] * len(calls)
        for call, result in zip(calls, results):
            if not call.future.done():
                call.future.set_result(result)

    async def _command(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except _DRIVER_ERRORS as exc:
            raise _wrap(self, exc) from exc


class _RedisLock:
    """``async with store.lock(id)``: the session's lease, visible to this task's read/write."""

    __slots__ = ("_store", "_session_id", "_lease", "_token")

    def __init__(self, store: RedisSessionStore, session_id: str) -> None:
        self._store = store
        self._session_id = session_id

    async def __aenter__(self) -> None:
        self._lease = await self._store._acquire(self._session_id)
        self._token = self._store._held.set(self._lease)

    async def __aexit__(self, *exc_info: object) -> None:
        self._store._held.reset(self._token)
        self._store._done(self._lease)


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


def _wrap(store: RedisSessionStore, exc: BaseException) -> StoreError:
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError, RedisClusterException)):
        message = (
            f"Cannot reach Redis at {store.where} ({exc}). Is redis-server running there, "
            "and are host, port and password right?"
        )
    else:
        message = f"Redis at {store.where} refused a session command: {exc}"
    error = StoreError(message)
    error.__cause__ = exc
    return error


def _keys(lease: _Lease) -> list[str]:
    return [lease.key, lease.lock, lease.next, lease.wake]


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: escape it, as JavaScript's JSON does
        return json.dumps(json.loads(text), separators=(",", ":")).encode()


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else key


def _finished(tasks: set[asyncio.Task[Any]]) -> Any:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed release or renewal only lets the lock expire

    return done
