"""The Redis store's session locks: the leases this process holds, and taking the lock.

A lock with expiry per session, owned by a random token (keys and scripts: :mod:`.redis_keys`):

* The lock is a **lease**: after a write it is kept for ``0.25`` s at most, until the loop has
  gone round without the session's next event here (:mod:`.redis_lease_timers`); back-to-back
  events reuse it and the value they just wrote, so they cost one round trip each (the write).
* A lease never starves other processes: the first one that finds the lock taken is promised
  the next turn (``{tag}:next:<key>``; nobody else may take the lock) and blocks on
  ``{tag}:wake:<key>``; the holder's next write sees the promise, hands the lock on and wakes
  it, in the same script.
* A write whose lock was lost (it expires ``lock_timeout`` seconds after it was last renewed,
  and the loop was blocked past that) is refused with a StoreError, never applied over
  another process's write.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptSessionError, StoreError
from ..record import CheckedRecord
from .redis_keys import ACQUIRE, NEXT, RELEASE, RENEW, WAKE, WRITE, Script, lock_key
from .redis_lease_timers import LeaseTimers
from .redis_resp import Arguments

ScriptCall = Callable[[Script, Arguments, Arguments, "bytes | None"], Awaitable[Any]]
UNKNOWN: Any = object()  # a lease whose cached value must be read again
_PROMISE_MS = 100  # how long a waiting process's claim on the next turn lasts between tries
_LEASE_MS = 250  # how long a lock outlives its event's write, for the session's next event
_WAKE_WAIT = 0.05  # seconds the next in line blocks on the wake list before trying again


@dataclass(slots=True)
class Lease:
    """A session lock this process holds: its token and the value as of the last step."""

    session_id: str
    key: str
    keys: Arguments  # key, lock, next, wake: what acquire and write take
    token: Arguments
    text: Any  # the stored JSON (str/bytes), None when absent, UNKNOWN when to be re-read
    valid_until: float  # time.monotonic() before which Redis cannot have expired the lock
    ttl: float = 0.0  # seconds of life the lock was last given (a lease, or lock_timeout)
    in_use: bool = True
    lost: bool = False
    idle_since: int = 0  # the sweep count when the lease last went idle
    renewing: bool = False
    record: CheckedRecord | None = None  # the runner's record that ``text`` was made from


class Leases(LeaseTimers):
    """The leases of one store: its ``lock()``, and the lease the current task holds.

    :param call: runs a script for one session (the store's auto-pipelined call).
    :param wait: blocks on a wake list for up to the given seconds (``BLPOP``).
    :param key: the Redis key of a session id.
    """

    def __init__(
        self, call: ScriptCall, wait: Callable[[str, float], Awaitable[Any]],
        key: Callable[[str], str], lock_timeout: float,
    ) -> None:
        super().__init__()
        self.lock_timeout = lock_timeout
        self.events = 0  # events in progress under these locks
        self._call, self._wait, self._key = call, wait, key
        self._lock_ms = max(1, int(lock_timeout * 1000))
        self._leases: dict[str, Lease] = {}
        self._held: contextvars.ContextVar[Lease | None] = contextvars.ContextVar(
            "bottender_nb_redis_lease", default=None
        )
        self._tokens = (f"{os.getpid()}.{os.urandom(6).hex()}.{n}" for n in itertools.count())

    def heads(self, ttl: int) -> dict[Script, list[Any]]:
        """The leading arguments of each script: the lock's, lease's and promise's lives."""
        return {
            ACQUIRE: [self._lock_ms, _PROMISE_MS], WRITE: [_LEASE_MS, ttl, _PROMISE_MS],
            RENEW: [self._lock_ms], RELEASE: [_PROMISE_MS],
        }

    def __getitem__(self, session_id: str) -> Lease:
        return self._leases[session_id]

    def clear(self) -> None:
        """Forget every lease unreleased: their lock keys are gone (``FLUSHALL``)."""
        self._leases.clear()

    def lock(self, session_id: str) -> RedisLock:
        """Hold the session against other processes (and clients) until the event is written."""
        return RedisLock(self, session_id)

    def held(self, session_id: str) -> Lease | None:
        """The lease this task holds on ``session_id``, if any: its read and write go through it."""
        lease = self._held.get()
        return lease if lease is not None and lease.session_id == session_id else None

    async def write(self, lease: Lease, text: bytes, session: Mapping[str, Any]) -> None:
        """Write under the lease: refused unless the lock is still ours, kept as a lease after."""
        sent = time.monotonic()
        try:
            written = await self._call(WRITE, lease.keys, lease.token, text)
        except BaseException:
            lease.text, lease.record = UNKNOWN, None  # applied or not: read it again next time
            raise
        if written == 2:  # handed on to a waiting process: no lease
            lease.lost = True
        if not written:
            self._drop(lease)
            raise StoreError(
                f"The lock of session {lease.session_id!r} expired before its write, so another "
                f"process may have changed it; the write was refused. The event loop was "
                f"blocked for longer than lock_timeout={self.lock_timeout}s -- raise it."
            )
        lease.text, lease.valid_until, lease.ttl = text, sent + _LEASE_MS / 1000, _LEASE_MS / 1000
        lease.record = session if type(session) is CheckedRecord else None

    def forget_value(self, session_id: str) -> None:
        """The session changed outside its lease: the lease's next event reads it again."""
        lease = self._leases.get(session_id)
        if lease is not None:
            lease.text, lease.record = UNKNOWN, None

    async def close(self) -> None:
        """Release the locks still held; those that fail to release expire by themselves."""
        await self._stop_timers()
        leases, self._leases, self._idle = list(self._leases.values()), {}, []
        try:
            await self._release(leases)
        except StoreError:
            pass  # the locks expire by themselves after lock_timeout

    # -- taking a lock --------------------------------------------------------------------

    def _reuse(self, session_id: str) -> Lease | None:
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

    async def _acquire(self, session_id: str) -> Lease:
        lease = self._leases.get(session_id)
        if lease is None or lease.in_use or lease.lost:
            key = self._key(session_id)
            lease = Lease(
                session_id, key,
                Arguments(key, lock_key(key), lock_key(key, NEXT), lock_key(key, WAKE)),
                Arguments(next(self._tokens)), UNKNOWN, 0.0,
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

    async def _take(self, lease: Lease) -> None:
        """Wait until the lock is ours, polling with a growing, jittered pause.

        The first waiting process is promised the next turn: the holder hands the lock on
        after its current event instead of keeping a lease, and nobody else may take it.
        """
        delay = 0.0005
        while True:
            sent = time.monotonic()
            got, value = await self._call(ACQUIRE, lease.keys, lease.token, None)
            if got == 2:
                kind = value.decode(errors="replace") if isinstance(value, bytes) else value
                raise CorruptSessionError(
                    f"Redis key {lease.key!r} holds a {kind}, not a session's JSON "
                    "string; delete it (or choose another prefix)."
                )
            if got:
                lease.text, lease.record, lease.lost = value, None, False
                lease.valid_until, lease.ttl = sent + self.lock_timeout, self.lock_timeout
                return
            if value:  # promised the next turn: wait to be woken (or try again soon)
                await self._wait(lease.keys.values[3], _WAKE_WAIT)
            else:
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.02)


class RedisLock:
    """``async with store.lock(id)``: the session's lease, visible to this task's read/write."""

    __slots__ = ("_leases", "_session_id", "_lease", "_token")

    def __init__(self, leases: Leases, session_id: str) -> None:
        self._leases = leases
        self._session_id = session_id

    async def __aenter__(self) -> None:
        leases = self._leases
        leases.events += 1
        try:
            lease = leases._reuse(self._session_id)
            if lease is None:
                lease = await leases._acquire(self._session_id)
        except BaseException:
            leases.events -= 1
            raise
        self._lease = lease
        self._token = leases._held.set(lease)

    async def __aexit__(self, *exc_info: object) -> None:
        leases = self._leases
        leases.events -= 1
        leases._held.reset(self._token)
        leases._done(self._lease)
