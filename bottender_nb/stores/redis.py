"""Sessions in Redis, in Bottender's format, with no lost update across processes.

Format: key ``prefix + session id``, value the session's compact JSON, written with ``SETEX``
(seconds) with ``expires_in`` and a plain ``SET`` without -- as Bottender's ``RedisCacheStore``
does, so Bottender bots and this store read each other's keys. Every byte goes through
redis-py's asyncio client (why that one: :mod:`.redis_client`).

A lock per session (:mod:`.redis_keys`), owned by a random token, expires ``lock_timeout`` s
after it was taken or renewed. Not ``WATCH``/``MULTI``: that retries a conflicting event, and
an action cannot be retried -- it has sent its replies. A change is two Lua scripts: *acquire*
takes the lock and returns the value; *write* checks the token, writes the session and its
turn (history keys given the session's TTL), and releases, in one step and one round trip; a
retried write knows it already landed. A waiter polls, with capped jittered backoff. A
session's changes through this store take turns in the process first (``store.locks``), so
Redis only orders processes. A busy session's write keeps the lock, at its full timeout, for an
event that follows at once (:mod:`.kept`): back to back, an event is one round trip, not two.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from typing import Any

from ..errors import CorruptSessionError, SessionIdError, StoreError
from ..record import dumps_utf8, loads
from .base import Clock, ExpiresIn, SessionStore
from .held import HeldSession, raise_if_cancelled
from .history import TurnRecord, encode_turn
from .kept import KeptLocks
from .redis_client import RedisClient, key_text
from .redis_history import RedisHistory
from .redis_keys import (ACQUIRE, RELEASE, RENEW, WANTED, WRITE, WRITTEN, glob_escape,
                         is_lock_key, lock_key)

_MAX_POLL = 0.05  # seconds: the longest sleep between two tries of a lock another one holds


class _Lease:
    """The lock one change holds on one session, renewed while it is held."""

    def __init__(self, key: str, token: str, lock_timeout: float) -> None:
        self.key, self.lock, self.token = key, lock_key(key), token
        self.expires = time.monotonic() + lock_timeout  # as far as this process knows
        self.timer: asyncio.TimerHandle | None = None
        self.released = False
        self.writes = 0  # one lock, kept, may see several writes: each has an id of its own

    def stop(self) -> None:
        self.released = True
        if self.timer is not None:
            self.timer.cancel()


class RedisSessionStore(SessionStore):
    """Sessions as Bottender writes them to Redis; cross-process safe (see the module docstring).

    :param host: where Redis is, with ``port``, ``password`` and ``db`` (Bottender's
        ``stores.redis`` options).
    :param url: instead of those, ``redis://...`` (also ``rediss://`` and ``unix://``).
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
        self.prefix, self.lock_timeout, self.cluster = prefix, lock_timeout, cluster
        self._redis = RedisClient(url, host, port, password, db, cluster, options, self._forget)
        self.where = self._redis.where
        self.history = RedisHistory(self._redis, prefix)
        seconds = self.expires_in_seconds
        self._ttl = 0 if seconds is None else max(1, math.ceil(seconds))
        self._serial = itertools.count()
        self._kept = KeptLocks(self._let_go, lock_timeout)
        self._forget()

    def _forget(self) -> None:
        """Start afresh: at first, and in a forked child (its parent's locks are not its own)."""
        self._id = secrets.token_hex(8)  # this store's token prefix (see redis_keys)
        self._chores: set[asyncio.Task[Any]] = set()  # releases and renewals under way
        self._kept.forget()

    def __repr__(self) -> str:
        return f"RedisSessionStore({self.where!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        """The redis-py asyncio client (``Redis`` or ``RedisCluster``) of this process and loop."""
        return self._redis.get()

    def key(self, session_id: str) -> str:
        """The Redis key of a session: ``prefix + session_id``."""
        key = self.prefix + session_id
        try:
            key.isascii() or key.encode()
        except UnicodeEncodeError:
            raise SessionIdError(
                f"The session id {session_id!r} holds a lone surrogate, which a Redis key "
                "(UTF-8) cannot carry; derive session ids from valid text."
            ) from None
        return key

    async def init(self) -> RedisSessionStore:
        """Check that Redis answers, so a wrong address fails at start with a clear message."""
        await self._redis.command(self.client.ping())
        return self

    async def close(self) -> None:
        """Let go of kept locks, finish the releases under way, close this process's client."""
        await self._kept.let_go_all()
        await asyncio.gather(*self._chores, return_exceptions=True)
        await self._redis.close()

    # -- the store primitives -------------------------------------------------------------

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        key = self.key(session_id)
        text = await self._redis.command(self.client.get(key), key)
        return None if text is None else loads(text, where=f"Redis key {key!r}")

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Store ``session``'s JSON (``SETEX`` with ``expires_in``), outside any change."""
        text = dumps_utf8(session)  # the check, the copy and the value in one encode
        key, client, ttl = self.key(session_id), self.client, self._ttl
        self._kept.drop(session_id)  # its kept value is about to be stale
        call = client.execute_command("SETEX", key, ttl, text) if ttl else client.set(key, text)
        await self._redis.command(call, key)

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        key = self.key(session_id)
        self._kept.drop(session_id)
        await self._redis.command(self.client.delete(key), key)

    async def _all(self) -> list[dict[str, Any]]:
        records = [record for _, record in await self.entries()]
        for record in records:
            if isinstance(record, CorruptSessionError):
                raise record
        return records  # type: ignore[return-value]

    async def entries(self) -> list[tuple[str, dict[str, Any] | CorruptSessionError]]:
        """Every key under the prefix (lock keys aside) with its record, or the error it is."""
        return [entry async for batch in self.entry_batches(500) for entry in batch]

    async def entry_batches(
        self, size: int = 1000
    ) -> AsyncIterator[list[tuple[str, dict[str, Any] | CorruptSessionError]]]:
        """SCAN (on every primary of a cluster: redis-py's cluster ``scan_iter`` keeps a cursor
        per primary) and one MGET per ``size`` keys; only the keys seen so far are kept."""
        client = self.client
        mget = client.mget_nonatomic if self.cluster else client.mget
        seen: set[str] = set()  # SCAN may return a key twice
        names: list[str] = []
        async for key in client.scan_iter(match=glob_escape(self.prefix) + "*", count=1000):
            name = key_text(key)
            if name not in seen and not is_lock_key(name):
                seen.add(name)
                names.append(name)
            if len(names) >= size:
                yield await self._records(mget, names)
                names = []
        if names:
            yield await self._records(mget, names)

    async def _records(self, mget: Any, names: list[str]) -> list[tuple[str, dict[str, Any] | CorruptSessionError]]:
        raw = [name.encode("utf-8", "surrogateescape") for name in names]
        entries: list[tuple[str, dict[str, Any] | CorruptSessionError]] = []
        for name, value in zip(names, await self._redis.command(mget(raw))):
            if value is not None:  # deleted meanwhile, or not a string (a history list)
                try:
                    entries.append((name, loads(value, where=f"Redis key {name!r}")))
                except CorruptSessionError as error:
                    entries.append((name, error))
        return entries

    # -- holding a session for one change ---------------------------------------------------

    async def _take(self, session_id: str, cancels: int) -> HeldSession:
        """Take the session's lock (waiting while another owner has it) and its value."""
        key = self.key(session_id)
        self._redis.get()  # first: in a forked child, this takes a token prefix of its own
        kept = self._kept.take(session_id)
        if kept is not None:  # its previous event kept the lock and what it wrote
            lease, text = kept.lease, kept.value
            lease.released = False
        else:
            lease = _Lease(key, f"{self._id}:{next(self._serial)}", self.lock_timeout)
            text = await self._acquire(lease, cancels)
        held = HeldSession(self, session_id, None, lease)
        try:
            if text is not None:
                record = loads(text, where=f"Redis key {key!r}")
                held.record = None if self.is_expired(record) else record
        except BaseException:
            await self._release(held)
            raise
        self._renew_later(lease)
        return held

    async def _commit(
        self, held: HeldSession, record: dict[str, Any], turn: TurnRecord | None, keep: int,
        history: list[TurnRecord] | None,
    ) -> int | None:
        """The session, its turn and the lock's release in one script (see :mod:`.redis_keys`)."""
        lease: _Lease = held.lease
        text = dumps_utf8(record)
        body = b"" if turn is None else encode_turn(turn)[1:]
        if history is not None:
            await self.history.replace(held.session_id, history)
        keys = [lease.key, lease.lock, *self.history.keys(held.session_id),
                lock_key(lease.key, WRITTEN), lock_key(lease.key, WANTED)]
        written_ms = max(60_000, round(self.lock_timeout * 3000))
        lease.writes += 1
        keep_lock = self._kept.busy(held.session_id)
        lock_ms = round(self.lock_timeout * 1000) if keep_lock else 0
        args = [lease.token, self._ttl, text, max(keep, 1), body, written_ms,
                f"{lease.token}/{lease.writes}", lock_ms]
        sent = time.monotonic()
        reply = await self._redis.run(WRITE, keys, args, lease.key)
        if not reply[0]:
            if history is not None:
                await self.history.destroy(held.session_id)
            raise self._lost(held.session_id, lease)
        lease.stop()
        if reply[2]:  # kept: nobody else was waiting for it
            lease.expires = sent + self.lock_timeout
            self._kept.keep(held.session_id, lease, text, sent)
        index = int(reply[1])
        if turn is not None:
            turn["index"] = index
        return None if turn is None else index

    async def _release(self, held: HeldSession) -> None:
        """Release the lock unless the write did; even if this task is being cancelled."""
        lease: _Lease = held.lease
        if lease.released:
            return
        lease.stop()
        release = self._chore(self._redis.run(RELEASE, [lease.lock], [lease.token]))
        with suppress(StoreError):  # then the lock expires, or is taken over here
            await asyncio.shield(release)

    async def _acquire(self, lease: _Lease, cancels: int) -> bytes | None:
        """Take the lock, polling while another owner has it; the session's value."""
        args = [lease.token, max(1, round(self.lock_timeout * 1000)), self._id + ":",
                round(_MAX_POLL * 3000)]  # wanted: until after the longest jittered poll
        keys = [lease.key, lease.lock, lock_key(lease.key, WANTED)]
        delay = 0.001
        while True:
            try:
                reply = await self._redis.run(ACQUIRE, keys, args, lease.key)
                if reply[0]:
                    raise_if_cancelled(cancels)  # a retry swallowed our cancellation
                    return reply[1] if len(reply) > 1 else None
                raise_if_cancelled(cancels)
            except BaseException:  # cancelled or failed in flight: the lock may be ours now
                self._chore(self._redis.run(RELEASE, [lease.lock], [lease.token]))
                raise
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(2 * delay, _MAX_POLL)

    async def _let_go(self, lease: _Lease) -> None:
        """Release a kept lock no event took (see :mod:`.kept`)."""
        with suppress(StoreError):  # then it expires, or this store's next event takes it over
            await self._redis.run(RELEASE, [lease.lock], [lease.token])

    def _renew_later(self, lease: _Lease) -> None:
        """Give the lock its full ``lock_timeout`` again a third of the way in, while held."""
        lease.timer = asyncio.get_running_loop().call_later(
            self.lock_timeout / 3, lambda: lease.released or self._chore(self._renew(lease))
        )

    async def _renew(self, lease: _Lease) -> None:
        self._renew_later(lease)
        sent = time.monotonic()
        if await self._redis.run(RENEW, [lease.lock], [lease.token, round(self.lock_timeout * 1000)]):
            lease.expires = sent + self.lock_timeout

    def _chore(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` on its own; its failure leaves a lock to expire or be taken over."""
        task = asyncio.ensure_future(coroutine)
        self._chores.add(task)
        task.add_done_callback(lambda _: self._chores.discard(task) or task.cancelled()
                               or task.exception())  # retrieved: not worth a warning
        return task

    def _lost(self, session_id: str, held: _Lease) -> StoreError:
        cause = (
            f"no renewal reached Redis within lock_timeout={self.lock_timeout}s (the event loop "
            "was blocked, e.g. by a synchronous call in the action); raise lock_timeout"
        ) if time.monotonic() >= held.expires else (
            "Redis no longer held it for this event (lost in a restart without persistence, "
            "a FLUSHALL or an eviction, or taken by another client)"
        )
        return StoreError(
            f"The lock of session {session_id!r} was lost before its write, so the write was "
            f"refused and the stored session is unchanged: {cause}."
        )


async def _collect(keys: AsyncIterator[Any]) -> list[Any]:
    return [key async for key in keys]
