"""Sessions in Redis, in Bottender's format, with no lost update across processes.

Format: key ``prefix + session id``, value the session's compact JSON, written with ``SETEX``
(seconds) with ``expires_in`` and a plain ``SET`` without -- as Bottender's ``RedisCacheStore``
does, so Bottender bots and this store read each other's keys. Every byte goes through
redis-py's asyncio client (why that one: :mod:`.redis_client`).

A change holds the session's lock (:mod:`.redis_lock`) and is two Lua scripts: *acquire*
takes the lock and returns the value; *write* checks the token, writes the session and its
turn (history keys given the session's TTL), and releases, in one step and one round trip; a
retried write knows it already landed. A busy session's write keeps the lock instead, for an
event that follows at once: back to back, an event is one round trip, not two. A session's
changes through this store take turns in the process first (``store.locks``), so Redis only
orders processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..errors import CorruptSessionError, SessionIdError
from ..record import dumps_utf8, loads
from .base import Clock, ExpiresIn, SessionStore
from .held import HeldSession
from .history import TurnRecord, encode_turn
from .redis_client import RedisClient, key_text
from .redis_history import RedisHistory
from .redis_keys import WANTED, WRITE, WRITTEN, glob_escape, is_lock_key, lock_key
from .redis_lock import Lease, RedisLocks

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
        self._redis = RedisClient(url, host, port, password, db, cluster, options,
                                  lambda: self._locks.forget())
        self.where = self._redis.where
        self.history = RedisHistory(self._redis, prefix)
        seconds = self.expires_in_seconds
        self._ttl = 0 if seconds is None else max(1, math.ceil(seconds))
        self._locks = RedisLocks(self._redis, lock_timeout)

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
        await self._locks.close()
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
        self._locks.kept.drop(session_id)  # its kept value is about to be stale
        call = client.execute_command("SETEX", key, ttl, text) if ttl else client.set(key, text)
        await self._redis.command(call, key)

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        key = self.key(session_id)
        self._locks.kept.drop(session_id)
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
        self._redis.get()  # first: in a forked child, this gives the locks a token of their own
        lease, text = await self._locks.take(key, session_id, cancels)
        held = HeldSession(self, session_id, None, lease)
        try:
            if text is not None:
                record = loads(text, where=f"Redis key {key!r}")
                held.record = None if self.is_expired(record) else record
        except BaseException:
            await self._release(held)
            raise
        return held

    async def _commit(
        self, held: HeldSession, record: dict[str, Any], turn: TurnRecord | None, keep: int,
        history: list[TurnRecord] | None,
    ) -> int | None:
        """The session, its turn and the lock's release in one script (see :mod:`.redis_keys`)."""
        lease: Lease = held.lease
        text = dumps_utf8(record)
        body = b"" if turn is None else encode_turn(turn)[1:]
        if history is not None:
            await self.history.replace(held.session_id, history)
        keys = [lease.key, lease.lock, *self.history.keys(held.session_id),
                lock_key(lease.key, WRITTEN), lock_key(lease.key, WANTED)]
        args = [lease.token, self._ttl, text, max(keep, 1), body,
                max(60_000, round(self.lock_timeout * 3000)),  # how long write ids are kept
                lease.write_id(), self._locks.hold_ms(held.session_id, lease)]
        sent = time.monotonic()
        reply = await self._redis.run(WRITE, keys, args, lease.key)
        if not reply[0]:
            if history is not None:
                await self.history.destroy(held.session_id)
            raise self._locks.lost(held.session_id, lease)
        self._locks.written(held.session_id, lease, bool(reply[2]), sent, text)
        index = int(reply[1])
        if turn is not None:
            turn["index"] = index
        return None if turn is None else index

    async def _release(self, held: HeldSession) -> None:
        await self._locks.release(held.lease)
