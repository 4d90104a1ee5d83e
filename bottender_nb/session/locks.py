"""Per-session ordering inside one process: a FIFO turnstile per busy session.

A session has an entry only while some event of it is running or waiting, so a bot that sees
millions of conversations keeps nothing per idle conversation, and an event that finds its
session idle pays for one dict insert: no lock object, no future.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class SessionLocks:
    """``async with locks.hold(session_id):`` runs events of one session one at a time, in order."""

    def __init__(self) -> None:
        # session id -> the futures of the events waiting behind the running one (None: none
        # yet; the queue is made only when an event has to wait)
        self._waiting: dict[str, deque[asyncio.Future[None]] | None] = {}

    def hold(self, session_id: str) -> _Held:
        """A context manager that waits its turn, first come first served."""
        return _Held(self, session_id)

    def try_enter(self, session_id: str) -> bool:
        """Enter an idle session at once (the hot path: no coroutine); False when it is busy."""
        if session_id in self._waiting:
            return False
        self._waiting[session_id] = None
        return True

    def __len__(self) -> int:
        """How many sessions have an event running or waiting."""
        return len(self._waiting)

    async def enter(self, session_id: str) -> None:
        """Wait for the session's turn; pair with :meth:`leave`."""
        if self.try_enter(session_id):
            return
        queue = self._waiting[session_id]
        if queue is None:
            queue = self._waiting[session_id] = deque()
        turn = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.leave(session_id)  # our turn was handed over as we were cancelled
            elif turn in queue:  # a release may already have dropped our cancelled turn
                queue.remove(turn)
            raise

    def leave(self, session_id: str) -> None:
        """Hand the session straight to the next waiting event, or forget it."""
        queue = self._waiting[session_id]
        while queue:
            turn = queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        del self._waiting[session_id]


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
