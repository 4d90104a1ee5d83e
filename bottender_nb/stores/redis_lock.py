"""A session's lock in Redis: taken, renewed while held, then released or kept.

A lock per session (:mod:`.redis_keys`), owned by a random token, expires ``lock_timeout`` s
after it was taken or renewed. Not ``WATCH``/``MULTI``: that retries a conflicting event, and
an action cannot be retried -- it has sent its replies. Taking it is one script (the lock and
the session's value at once); a waiter polls, with capped jittered backoff, and marks the lock
*wanted*. The store's write releases it in the same script; or, for a busy session nobody
else wants, gives it its full timeout again and keeps it for the next event (:mod:`.kept`).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import time
from contextlib import suppress
from typing import Any

from ..errors import StoreError
from .held import raise_if_cancelled
from .kept import KeptLocks
from .redis_client import RedisClient
from .redis_keys import ACQUIRE, RELEASE, RENEW, WANTED, lock_key

_MAX_POLL = 0.05  # seconds: the longest sleep between two tries of a lock another one holds


class Lease:
    """The lock one change holds on one session, renewed while it is held."""

    def __init__(self, key: str, token: str, lock_timeout: float) -> None:
        self.key, self.lock, self.token = key, lock_key(key), token
        self.expires = time.monotonic() + lock_timeout  # as far as this process knows
        self.timer: asyncio.TimerHandle | None = None
        self.released = False
        self.busy = False  # its event began right after the session's previous commit
        self.writes = 0  # one lock, kept, may see several writes: each has an id of its own

    def stop(self) -> None:
        self.released = True
        if self.timer is not None:
            self.timer.cancel()

    def write_id(self) -> str:
        """A new id for the next write under this lock (a retried write knows it landed)."""
        self.writes += 1
        return f"{self.token}/{self.writes}"


class RedisLocks:
    """The locks one store takes on its sessions."""

    def __init__(self, redis: RedisClient, lock_timeout: float) -> None:
        self._redis, self.lock_timeout = redis, lock_timeout
        self._lock_ms = max(1, round(lock_timeout * 1000))
        self._serial = itertools.count()
        self.kept = KeptLocks(self._let_go, lock_timeout)
        self.forget()

    def forget(self) -> None:
        """Start afresh: at first, and in a forked child (its parent's locks are not its own)."""
        self._id = secrets.token_hex(8)  # this store's token prefix (see redis_keys)
        self._chores: set[asyncio.Task[Any]] = set()  # releases and renewals under way
        self.kept.forget()

    async def close(self) -> None:
        """Let go of kept locks, and finish the releases under way."""
        await self.kept.let_go_all()
        await asyncio.gather(*self._chores, return_exceptions=True)

    async def take(self, key: str, session_id: str, cancels: int) -> tuple[Lease, bytes | None]:
        """The session's lock, kept by its previous event or taken (waiting while another
        owner has it), and the session's value; renewed while held."""
        kept = self.kept.take(session_id)
        if kept is not None:
            lease, value = kept.lease, kept.value
            lease.released = False
        else:
            busy = self.kept.busy(session_id)
            lease = Lease(key, f"{self._id}:{next(self._serial)}", self.lock_timeout)
            value = await self._acquire(lease, cancels)
            lease.busy = busy
        self._renew_later(lease)
        return lease, value

    def hold_ms(self, session_id: str, lease: Lease) -> int:
        """How long the write should keep the lock for the next event (0: release it)."""
        return self._lock_ms if lease.busy else 0

    def written(self, session_id: str, lease: Lease, kept: bool, sent: float, value: bytes) -> None:
        """The write landed (at ``sent``, monotonic), releasing the lock or keeping it."""
        lease.stop()
        self.kept.committed(session_id)
        if kept:
            lease.expires = sent + self.lock_timeout
            self.kept.keep(session_id, lease, value, sent)

    async def release(self, lease: Lease) -> None:
        """Release the lock unless the write did; even if this task is being cancelled."""
        if lease.released:
            return
        lease.stop()
        release = self._chore(self._redis.run(RELEASE, [lease.lock], [lease.token]))
        with suppress(StoreError):  # then the lock expires, or is taken over here
            await asyncio.shield(release)

    async def _acquire(self, lease: Lease, cancels: int) -> bytes | None:
        """Take the lock, polling while another owner has it; the session's value."""
        args = [lease.token, self._lock_ms, self._id + ":",
                round(_MAX_POLL * 3000)]  # wanted: until after the longest jittered poll
        keys = [lease.key, lease.lock, lock_key(lease.key, WANTED)]
        delay = 0.001
        while True:
            try:
                reply = await self._redis.run(ACQUIRE, keys, args, lease.key)
                raise_if_cancelled(cancels)  # a retry swallowed our cancellation
                if reply[0]:
                    return reply[1] if len(reply) > 1 else None
            except BaseException:  # cancelled or failed in flight: the lock may be ours now
                self._chore(self._redis.run(RELEASE, [lease.lock], [lease.token]))
                raise
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(2 * delay, _MAX_POLL)

    async def _let_go(self, lease: Lease) -> None:
        """Release a kept lock no event took (see :mod:`.kept`)."""
        with suppress(StoreError):  # then it expires, or this store's next event takes it over
            await self._redis.run(RELEASE, [lease.lock], [lease.token])

    def _renew_later(self, lease: Lease) -> None:
        """Give the lock its full ``lock_timeout`` again a third of the way in, while held."""
        lease.timer = asyncio.get_running_loop().call_later(
            self.lock_timeout / 3, lambda: lease.released or self._chore(self._renew(lease))
        )

    async def _renew(self, lease: Lease) -> None:
        self._renew_later(lease)
        sent = time.monotonic()
        if await self._redis.run(RENEW, [lease.lock], [lease.token, self._lock_ms]):
            lease.expires = sent + self.lock_timeout

    def _chore(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` on its own; its failure leaves a lock to expire or be taken over."""
        task = asyncio.ensure_future(coroutine)
        self._chores.add(task)
        task.add_done_callback(lambda _: self._chores.discard(task) or task.cancelled()
                               or task.exception())  # retrieved: not worth a warning
        return task

    def lost(self, session_id: str, lease: Lease) -> StoreError:
        """The error of a write refused because the lock was no longer this event's."""
        cause = (
            f"no renewal reached Redis within lock_timeout={self.lock_timeout}s (the event loop "
            "was blocked, e.g. by a synchronous call in the action); raise lock_timeout"
        ) if time.monotonic() >= lease.expires else (
            "Redis no longer held it for this event (lost in a restart without persistence, "
            "a FLUSHALL or an eviction, or taken by another client)"
        )
        return StoreError(
            f"The lock of session {session_id!r} was lost before its write, so the write was "
            f"refused and the stored session is unchanged: {cause}."
        )
