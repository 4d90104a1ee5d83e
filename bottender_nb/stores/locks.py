"""Per-session ordering inside one process: a FIFO turnstile per busy session.

Each store owns one (``store.locks``), so every ``Bot`` sharing that store takes its turn on a
session. A session has an entry only while some event of it is running or waiting, so a bot that
sees millions of conversations keeps nothing per idle conversation, and an event that finds its
session idle pays for one dict insert: no lock object, no future.

Events may come from more than one thread, each with its own event loop (the notebook's loop,
and a webhook server's loop in a background thread): the table is guarded by a thread lock,
and a waiter on another loop is woken on its own loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections import deque
from types import TracebackType

_ALL: weakref.WeakSet[SessionLocks] = weakref.WeakSet()


class SessionLocks:
    """``async with locks.hold(session_id):`` runs events of one session one at a time, in order."""

    def __init__(self) -> None:
        # session id -> the futures of the events waiting behind the running one (None: none
        # yet; the queue is made only when an event has to wait)
        self._waiting: dict[str, deque[asyncio.Future[None]] | None] = {}
        self._mutex = threading.Lock()
        _ALL.add(self)

    def hold(self, session_id: str) -> _Held:
        """A context manager that waits its turn, first come first served."""
        return _Held(self, session_id)

    def try_enter(self, session_id: str) -> bool:
        """Enter an idle session at once (the hot path: no coroutine); False when it is busy."""
        with self._mutex:
            if session_id in self._waiting:
                return False
            self._waiting[session_id] = None
            return True

    def __len__(self) -> int:
        """How many sessions have an event running or waiting."""
        return len(self._waiting)

    async def enter(self, session_id: str) -> None:
        """Wait for the session's turn; pair with :meth:`leave`."""
        turn = asyncio.get_running_loop().create_future()
        with self._mutex:
            if session_id not in self._waiting:
                self._waiting[session_id] = None
                return
            queue = self._waiting[session_id]
            if queue is None:
                queue = self._waiting[session_id] = deque()
            queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            with self._mutex:
                handed = turn.done() and not turn.cancelled()
                if not handed and turn in queue:  # still waiting: just drop out of the line
                    queue.remove(turn)
            if handed:
                self.leave(session_id)  # our turn was handed over as we were cancelled
            raise

    def leave(self, session_id: str) -> None:
        """Hand the session straight to the next waiting event, or forget it."""
        while True:
            with self._mutex:
                queue = self._waiting[session_id]
                turn = queue.popleft() if queue else None
                if turn is None:
                    del self._waiting[session_id]
                    return
            if _hand_over(turn, lambda: self.leave(session_id)):
                return


def _hand_over(turn: asyncio.Future[None], skip: object) -> bool:
    """Wake ``turn`` on its own loop; False when it can never run (cancelled, loop closed).

    A waiter of another thread's loop is woken there; should it be cancelled before that,
    ``skip`` (the next hand-over) runs instead, on that loop.
    """
    if turn.done():
        return False
    loop = turn.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is running:
        turn.set_result(None)
        return True
    try:
        loop.call_soon_threadsafe(_wake, turn, skip)
    except RuntimeError:  # that loop is closed: nobody waits there any more
        return False
    return True


def _wake(turn: asyncio.Future[None], skip: object) -> None:
    if turn.done():
        skip()  # type: ignore[operator]
    else:
        turn.set_result(None)


class _Held:
    __slots__ = ("_locks", "_session_id")

    def __init__(self, locks: SessionLocks, session_id: str) -> None:
        self._locks = locks
        self._session_id = session_id

    async def __aenter__(self) -> None:
        await self._locks.enter(self._session_id)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._locks.leave(self._session_id)


def _forget_in_child() -> None:
    """A forked child runs none of its parent's events: it starts with every session idle."""
    for locks in list(_ALL):
        locks._waiting = {}
        locks._mutex = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_forget_in_child)
