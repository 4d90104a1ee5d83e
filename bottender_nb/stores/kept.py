"""A session's cross-process lock kept across its back-to-back events, let go when idle.

When an event of a session begins as soon as the previous one was committed (a script or a
test sending one message after another, a chat replayed, a burst of deliveries), giving the
lock back and taking it again costs two round trips to Redis for nothing. So the commit of an
event of a **busy** session (one that began less than ``BUSY`` s after the session's previous
commit here) **keeps** the lock with the value it wrote; the session's next event, if it begins before this process's
event loop next turns, starts from them. On that next pass of the loop, a kept lock no event
took is let go: other processes wait for it no longer than this process's loop takes to turn,
plus one round trip (:func:`let_go_all` lets go at once, for ``run_sync``). A session that is
not busy (a person typing) releases in its write, as before: keeping would cost it a release of
its own.

Why an event that starts from a kept lock is as safe as one that took it afresh:

- the write that keeps the lock gives it its full ``lock_timeout`` again, in the same step as
  the write, and a kept lock is used only while two thirds of that are left (a loop blocked
  for longer lets it go stale, and the next event takes the lock afresh): the event starts with
  as long a lease as a fresh one, renewed the same way;
- the kept value is what this process wrote under that lock, and nothing else can write while
  the lock is held (writers that take no lock, Bottender among them, were never ordered);
- a kept lock belongs to the loop that kept it and to this process: another loop or a forked
  child takes the lock afresh.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

_ALL: weakref.WeakSet[KeptLocks] = weakref.WeakSet()
BUSY = 0.01  # seconds from a session's commit to its next event's start that make it busy


class Kept:
    """One kept lock: the store's lease and the bytes of the value written under it."""

    __slots__ = ("lease", "loop", "until", "value")

    def __init__(self, lease: Any, value: bytes, until: float) -> None:
        self.lease, self.value, self.until = lease, value, until
        self.loop = asyncio.get_running_loop()


class KeptLocks:
    """The locks one store keeps, by session id; ``let_go(lease)`` releases one."""

    def __init__(self, let_go: Callable[[Any], Awaitable[Any]], lock_timeout: float) -> None:
        self._let_go = let_go
        self._fresh_for = lock_timeout / 3  # a kept lock has at least 2/3 of its lease left
        self._kept: dict[str, Kept] = {}
        self._mutex = threading.Lock()  # the next event may come from another thread's loop
        self._letting_go: set[asyncio.Task[Any]] = set()
        self._last_commit: dict[str, float] = {}  # session id -> monotonic time, pruned
        self._prune_at = 1024
        _ALL.add(self)

    def busy(self, session_id: str) -> bool:
        """Whether the session's previous commit here was less than ``BUSY`` s ago (asked as
        an event begins: then it is busy, and its commit keeps the lock)."""
        last = self._last_commit.get(session_id)
        return last is not None and time.monotonic() - last < BUSY

    def committed(self, session_id: str) -> None:
        """Note the session's commit, for :meth:`busy`."""
        now = self._last_commit[session_id] = time.monotonic()
        if len(self._last_commit) > self._prune_at:
            with self._mutex:
                self._last_commit = {sid: at for sid, at in self._last_commit.copy().items()
                                     if now - at < BUSY}
                self._prune_at = max(1024, 2 * len(self._last_commit))

    def keep(self, session_id: str, lease: Any, value: bytes, renewed_at: float) -> None:
        """Keep ``lease`` (renewed to its full timeout at ``renewed_at``, monotonic) and
        ``value`` for the session's next event, until the loop's next pass."""
        kept = Kept(lease, value, renewed_at + self._fresh_for)
        with self._mutex:
            self._kept[session_id] = kept
        self._track(asyncio.ensure_future(self._idle(session_id, kept)))

    def take(self, session_id: str) -> Kept | None:
        """The session's kept lock and value, if one is kept on this loop and still fresh."""
        kept = self._pop(session_id)
        if kept is None:
            return None
        if kept.loop is asyncio.get_running_loop() and time.monotonic() < kept.until:
            return kept
        self._release(kept)  # stale or another loop's: the event takes the lock afresh
        return None

    def drop(self, session_id: str) -> None:
        """Let the session's kept lock go (a write or delete outside an event is coming)."""
        kept = self._pop(session_id)
        if kept is not None:
            self._release(kept)

    def _pop(self, session_id: str) -> Kept | None:
        if not self._kept:  # the common case, with no mutex
            return None
        with self._mutex:
            return self._kept.pop(session_id, None)

    def forget(self) -> None:
        """Drop every kept lock unreleased: a forked child's inherited ones are not its own
        (nor its mutex, which another thread of the parent may have held at the fork)."""
        self._kept, self._letting_go, self._last_commit = {}, set(), {}
        self._mutex = threading.Lock()

    async def let_go_all(self) -> None:
        """Let go of every lock kept on this loop, and wait for the releases under way."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            mine = [(sid, kept) for sid, kept in self._kept.items() if kept.loop is loop]
            for session_id, _ in mine:
                del self._kept[session_id]
        for _, kept in mine:
            self._release(kept)
        waiting = [task for task in self._letting_go if task.get_loop() is loop]
        await asyncio.gather(*waiting, return_exceptions=True)

    async def _idle(self, session_id: str, kept: Kept) -> None:
        """On the loop's next pass, let the lock go if no event took it. A task, not a
        callback: a loop that ends first (``asyncio.run`` after its last event) cancels it,
        and it still lets the lock go, while the loop waits for cancelled tasks to finish."""
        try:
            await asyncio.sleep(0)
        finally:
            if self._untake(session_id, kept):
                await self._let_go(kept.lease)

    def _untake(self, session_id: str, kept: Kept) -> bool:
        """Remove ``kept`` if it is still the session's kept lock (no event took it)."""
        with self._mutex:
            if self._kept.get(session_id) is not kept:
                return False
            del self._kept[session_id]
            return True

    def _release(self, kept: Kept) -> None:
        if kept.loop.is_closed():
            return  # its lock expires by itself, or the next event takes it over
        if kept.loop is not _running_loop():
            kept.loop.call_soon_threadsafe(self._release, kept)
            return
        self._track(asyncio.ensure_future(self._let_go(kept.lease)))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._letting_go.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._letting_go.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed release leaves a lock to expire


def any_kept() -> bool:
    """Whether any store keeps a lock now (cheap: ``run_sync`` asks after every call)."""
    return any(locks._kept for locks in list(_ALL))


async def let_go_all() -> None:
    """Let go of every lock any store keeps on this loop; ``run_sync`` calls it before it
    returns, so a synchronous caller that then blocks does not keep other processes waiting."""
    await asyncio.gather(*(locks.let_go_all() for locks in list(_ALL)))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
