"""Sessions in Redis, in Bottender's format, with no lost update across processes.

Format: key ``prefix + session id``, value the session's compact JSON; with ``expires_in``
the value is written with ``SETEX`` (seconds), without it with a plain ``SET`` -- exactly what
Bottender's ``RedisCacheStore`` does, so Bottender bots and this store read each other's keys.

Every byte goes through redis-py's asyncio client (``Redis``, or ``RedisCluster``), which owns
the protocol, the connection pool, reconnects and retries. redis-py rather than valkey-glide:
measured here (``benchmarks/bench_redis.py``), redis-py meets the one-session target (an event
costs the two round trips Bottender's own store makes), it is the client Bottender users and
the rest of this package already have, and its cluster client takes the same scripts.
valkey-glide multiplexes one connection and so runs many conversations faster, but that
figure alone does not pay for a second, Rust-built client.

Concurrency control: a lock per session (:mod:`.redis_keys`), owned by a random token and
expiring ``lock_timeout`` seconds after it was taken or last renewed (a timer renews it while
the event runs). Not ``WATCH``/``MULTI``: that retries a conflicting event, and an action
cannot be retried -- it has already sent its replies. An event is two Lua scripts: *acquire*
takes the lock and returns the value; *write* checks the token, writes and releases. A waiter
polls with capped, jittered backoff. Inside the process, a session's events through this store
take turns first (several ``Bot`` objects may share it), so Redis only orders processes.
A forked child, or another event loop, gets a client of its own: a pool's connections belong
to the process and loop that opened them.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import random
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from ..errors import CorruptSessionError, SessionIdError, StoreError, missing_extra
from ..record import dumps_utf8, loads
from .base import Clock, ExpiresIn, SessionStore
from .redis_keys import ACQUIRE, RELEASE, RENEW, WRITE, glob_escape, is_lock_key, lock_key

try:
    import redis.asyncio as aioredis
    from redis import exceptions as rx
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

_MAX_POLL = 0.05  # seconds: the longest sleep between two tries of a lock another one holds
_INHERITED: list[Any] = []  # clients a forked child got from its parent, never to be used
_forks = [0]  # the number of forks this process descends from; a child needs new connections
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


class _Held:
    """The lock one event holds on one session."""

    def __init__(self, key: str, token: str, text: bytes | None, lock_timeout: float) -> None:
        self.key, self.lock, self.token, self.text = key, lock_key(key), token, text
        self.task = asyncio.current_task()
        self.expires = time.monotonic() + lock_timeout  # as far as this process knows
        self.timer: asyncio.TimerHandle | None = None
        self.released = False


class RedisSessionStore(SessionStore):
    """Sessions as Bottender writes them to Redis; cross-process safe (see the module docstring).

    :param host, port, password, db: where Redis is (Bottender's ``stores.redis`` options);
        or ``url="redis://..."`` (also ``rediss://`` and ``unix://``).
    :param cluster: talk to a Redis Cluster through ``host:port`` (or ``url``), any node.
    :param prefix: put before every session id in key names; ``all()`` lists only these keys.
    :param lock_timeout: seconds a session's lock outlives a process that stopped renewing it
        (it crashed, or its event loop was blocked that long).
    :param options: passed to ``redis.asyncio.Redis`` / ``RedisCluster`` (``socket_timeout``...).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 6379, password: str | None = None, db: int = 0,
        *, url: str | None = None, cluster: bool = False, prefix: str = "",
        expires_in: ExpiresIn = None, clock: Clock = time.time, lock_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        if not isinstance(lock_timeout, (int, float)) or not lock_timeout > 0:
            raise ValueError(f"lock_timeout must be positive seconds, not {lock_timeout!r}.")
        if cluster and db:
            raise ValueError("Redis Cluster has only database 0; drop db= or cluster=True.")
        if "://" in host and url is None:
            url = host  # Bottender also takes a URL as its first argument
        # redis-py's default retries take seconds to report a server that is down; keep it short.
        options.setdefault("retry", Retry(ExponentialBackoff(cap=0.2, base=0.02), 3))
        self._connect = (url, host, port, password, db, cluster, options)
        self.prefix, self.lock_timeout, self.cluster = prefix, lock_timeout, cluster
        self.where = url or f"{host}:{port}"
        seconds = self.expires_in_seconds
        self._ttl = 0 if seconds is None else max(1, math.ceil(seconds))
        self._client: Any = None
        self._bound: tuple[int, asyncio.AbstractEventLoop | None] = (-1, None)
        self._turns: dict[str, list[Any]] = {}  # session id -> [asyncio.Lock, users]
        self._held: dict[str, _Held] = {}
        self._chores: set[asyncio.Task[Any]] = set()  # releases and renewals under way
        self._id = secrets.token_hex(8)
        self._serial = itertools.count()

    def __repr__(self) -> str:
        return f"RedisSessionStore({self.where!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        """The redis-py asyncio client (``Redis`` or ``RedisCluster``) of this process and loop."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        forks, bound_loop = self._bound
        if self._client is None or forks != _forks[0] or (loop and bound_loop not in (None, loop)):
            if forks != _forks[0]:  # the parent's locks and connections are not ours: keep
                _INHERITED.append(self._client)  # them from being closed, and forget them
                self._id, self._turns, self._held, self._chores = secrets.token_hex(8), {}, {}, set()
            self._client, bound_loop = self._make_client(), None
            self._scripts = [self._client.register_script(s) for s in (ACQUIRE, WRITE, RENEW, RELEASE)]
        self._bound = (_forks[0], bound_loop or loop)
        return self._client

    def _make_client(self) -> Any:
        url, host, port, password, db, cluster, options = self._connect
        if cluster:
            if url:
                return RedisCluster.from_url(url, **options)
            return RedisCluster(host=host, port=port, password=password, **options)
        if url:
            return aioredis.Redis.from_url(url, **options)
        return aioredis.Redis(host=host, port=port, password=password, db=db, **options)

    def key(self, session_id: str) -> str:
        """The Redis key of a session: ``prefix + session_id``."""
        key = self.prefix + session_id
        if not key.isascii():
            try:
                key.encode()
            except UnicodeEncodeError:
                raise SessionIdError(
                    f"The session id {session_id!r} holds a lone surrogate, which a Redis key "
                    "(UTF-8) cannot carry; derive session ids from valid text."
                ) from None
        return key

    async def init(self) -> RedisSessionStore:
        """Check that Redis answers, so a wrong address fails at start with a clear message."""
        await self._command(self.client.ping())
        return self

    async def close(self) -> None:
        """Finish the releases under way and close this process's client."""
        if self._chores:
            await asyncio.gather(*self._chores, return_exceptions=True)
        client, (forks, loop) = self._client, self._bound
        self._client = None
        if client is not None and forks == _forks[0]:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if loop in (None, running):
                await client.aclose()

    # -- the store primitives -------------------------------------------------------------

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        """The stored record; under this task's lock, the value the lock came with (no I/O)."""
        held = self._held_by_me(session_id)
        if held is not None:
            text = held.text
            key = held.key
        else:
            key = self.key(session_id)
            text = await self._command(self.client.get(key), key)
        return None if text is None else loads(text, where=f"Redis key {key!r}")

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Store ``session``'s JSON; under this task's lock, only if the lock is still ours.

        That write also releases the lock: it is an event's last step. A later write under
        the same ``lock()`` is a plain one.
        """
        text = dumps_utf8(session)  # the check, the copy and the value in one encode
        held = self._held_by_me(session_id)
        if held is None:
            key = self.key(session_id)
            ttl = self._ttl
            client = self.client
            write = client.execute_command("SETEX", key, ttl, text) if ttl else client.set(key, text)
            await self._command(write, key)
            return
        written = await self._run(1, [held.key, held.lock], [held.token, self._ttl, text])
        self._let_go(session_id, held)
        if not written:
            raise self._lost(session_id, held)

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        key = self.key(session_id)
        await self._command(self.client.delete(key), key)
        held = self._held_by_me(session_id)
        if held is not None:
            held.text = None

    async def _all(self) -> list[dict[str, Any]]:
        records = []
        for _, record in await self.entries():
            if isinstance(record, CorruptSessionError):
                raise record
            records.append(record)
        return records

    async def entries(self) -> list[tuple[str, dict[str, Any] | CorruptSessionError]]:
        """Every key under the prefix (lock keys aside) with its record, or the error it is."""
        client = self.client
        match = glob_escape(self.prefix) + "*"
        keys = await self._command(_collect(client.scan_iter(match=match, count=1000)))
        names = [_text(key) for key in dict.fromkeys(keys)]  # SCAN may return a key twice
        names = [name for name in names if not is_lock_key(name)]
        mget = client.mget_nonatomic if self.cluster else client.mget
        entries: list[tuple[str, dict[str, Any] | CorruptSessionError]] = []
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            raw = [name.encode("utf-8", "surrogateescape") for name in chunk]
            for name, value in zip(chunk, await self._command(mget(raw))):
                if value is not None:  # deleted meanwhile, or not a string (a history list)
                    try:
                        entries.append((name, loads(value, where=f"Redis key {name!r}")))
                    except CorruptSessionError as error:
                        entries.append((name, error))
        return entries

    # -- the session lock -----------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """Hold the session against other events, processes and clients until it is written."""
        key = self.key(session_id)
        self.client  # noqa: B018 - a forked child forgets its parent's turns first
        turn = self._turns.setdefault(session_id, [asyncio.Lock(), 0])
        turn[1] += 1
        try:
            await turn[0].acquire()
        except BaseException:
            self._leave(session_id, turn, False)
            raise
        held = None
        try:
            held = await self._acquire(key)
            self._held[session_id] = held
            self._renew_later(held)
            yield
        finally:
            if held is None or held.released:
                self._leave(session_id, turn, True)
            else:  # the event failed before its write: release, even if this task is cancelled
                self._let_go(session_id, held)
                release = self._chore(self._run(3, [held.lock], [held.token]))
                release.add_done_callback(lambda _: self._leave(session_id, turn, True))
                try:
                    await asyncio.shield(release)
                except StoreError:
                    pass  # the lock expires, or this store takes it over at its next event

    async def _acquire(self, key: str) -> _Held:
        """Take the session's lock (waiting while another owner has it) and read its value."""
        token = f"{self._id}:{next(self._serial)}"
        args = [token, max(1, round(self.lock_timeout * 1000)), self._id + ":"]
        lock, delay = lock_key(key), 0.001
        while True:
            try:
                reply = await self._run(0, [key, lock], args, key)
            except BaseException:  # cancelled or failed in flight: the lock may be ours now
                self._chore(self._run(3, [lock], [token]))
                raise
            if reply[0]:
                return _Held(key, token, reply[1] if len(reply) > 1 else None, self.lock_timeout)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(2 * delay, _MAX_POLL)

    def _held_by_me(self, session_id: str) -> _Held | None:
        held = self._held.get(session_id)
        if held is None or held.released or held.task is not asyncio.current_task():
            return None
        return held

    def _let_go(self, session_id: str, held: _Held) -> None:
        held.released = True
        if held.timer is not None:
            held.timer.cancel()
        if self._held.get(session_id) is held:
            del self._held[session_id]

    def _leave(self, session_id: str, turn: list[Any], entered: bool) -> None:
        if entered:
            turn[0].release()
        turn[1] -= 1
        if not turn[1] and self._turns.get(session_id) is turn:
            del self._turns[session_id]

    def _renew_later(self, held: _Held) -> None:
        """Give the lock its full ``lock_timeout`` again a third of the way in, while held."""
        def renew() -> None:
            if not held.released:
                self._chore(self._renew(held))
                self._renew_later(held)

        held.timer = asyncio.get_running_loop().call_later(self.lock_timeout / 3, renew)

    async def _renew(self, held: _Held) -> None:
        sent = time.monotonic()
        if await self._run(2, [held.lock], [held.token, round(self.lock_timeout * 1000)]):
            held.expires = sent + self.lock_timeout

    def _chore(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` on its own; its failure leaves a lock to expire or be taken over."""
        task = asyncio.ensure_future(coroutine)
        self._chores.add(task)
        task.add_done_callback(self._chore_done)
        return task

    def _chore_done(self, task: asyncio.Task[Any]) -> None:
        self._chores.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a lost release or renewal is not worth a warning

    def _lost(self, session_id: str, held: _Held) -> StoreError:
        if time.monotonic() >= held.expires:
            cause = (
                f"no renewal reached Redis within lock_timeout={self.lock_timeout}s (the event "
                "loop was blocked, e.g. by a synchronous call in the action); raise lock_timeout"
            )
        else:
            cause = (
                "Redis no longer held it for this event (lost in a restart without persistence, "
                "a FLUSHALL or an eviction, or taken by another client)"
            )
        return StoreError(
            f"The lock of session {session_id!r} was lost before its write, so the write was "
            f"refused and the stored session is unchanged: {cause}."
        )

    # -- talking to Redis -----------------------------------------------------------------

    async def _run(self, script: int, keys: list[str], args: list[Any], key: str = "") -> Any:
        self.client  # noqa: B018 - binds the scripts to this process's and loop's client
        return await self._command(self._scripts[script](keys, args), key)

    async def _command(self, awaitable: Any, key: str = "") -> Any:
        try:
            return await awaitable
        except (rx.RedisError, rx.RedisClusterException, OSError) as exc:
            raise await self._error(exc, key) from exc

    async def _error(self, exc: BaseException, key: str) -> StoreError:
        if isinstance(exc, rx.ResponseError) and "WRONGTYPE" in str(exc) and key:
            try:
                kind = _text(await self.client.type(key))
            except (rx.RedisError, OSError):
                kind = "value of another type"
            return CorruptSessionError(
                f"Redis key {key!r} holds a {kind}, not a session string; delete it, "
                "or give this store another prefix."
            )
        if isinstance(exc, rx.BusyLoadingError):
            message = f"Redis at {self.where} is still loading its data after a restart; retry soon."
        elif isinstance(exc, rx.AuthenticationError):
            message = (
                f"Redis at {self.where} refused to log in ({exc}); check password= (and "
                "username=, or the URL's user:password@) against the server's requirepass/ACL."
            )
        elif isinstance(exc, rx.TimeoutError):
            timeout = self._connect[-1].get("socket_timeout")
            message = (
                f"Redis at {self.where} did not answer within socket_timeout={timeout}s ({exc}); "
                "is it overloaded or stalled? Raise socket_timeout if it is just slow."
            )
        elif isinstance(exc, (rx.ConnectionError, OSError, rx.RedisClusterException)):
            message = (
                f"Cannot reach Redis at {self.where} ({exc}). Is redis-server running there, "
                "and are host, port and password right?"
            )
        else:
            message = f"Redis at {self.where} refused a session command: {exc}"
        return StoreError(message)


async def _collect(keys: AsyncIterator[Any]) -> list[Any]:
    return [key async for key in keys]


def _text(key: Any) -> str:
    return key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
