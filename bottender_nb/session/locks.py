"""Per-session ordering inside one process: one FIFO asyncio lock per busy session.

A lock exists only while some event of its session is running or waiting, so a bot that
sees millions of conversations keeps no lock per idle conversation.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class _Entry:
    __slots__ = ("lock", "holders")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.holders = 0


class SessionLocks:
    """``async with locks.hold(session_id):`` runs events of one session one at a time, in order."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def hold(self, session_id: str) -> _Held:
        """A context manager that waits its turn (asyncio locks wake waiters first-in first-out)."""
        return _Held(self, session_id)

    def __len__(self) -> int:
        """How many sessions have an event running or waiting."""
        return len(self._entries)


class _Held:
    __slots__ = ("_locks", "_session_id", "_entry")

    def __init__(self, locks: SessionLocks, session_id: str) -> None:
        self._locks = locks
        self._session_id = session_id

    async def __aenter__(self) -> None:
        entries = self._locks._entries
        entry = entries.get(self._session_id)
        if entry is None:
            entry = entries[self._session_id] = _Entry()
        entry.holders += 1
        self._entry = entry
        try:
            await entry.lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._entry.lock.release()
        self._leave()

    def _leave(self) -> None:
        self._entry.holders -= 1
        if self._entry.holders == 0:
            del self._locks._entries[self._session_id]
