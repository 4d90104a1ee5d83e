"""Sessions kept in this process, least recently used dropped first, like Bottender's memory store."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cachetools import Cache, LRUCache

from ..record import CheckedRecord, dumps, parse
from .base import Clock, ExpiresIn, SessionStore


class MemorySessionStore(SessionStore):
    """An LRU of sessions, each kept as a JSON-safe snapshot that nothing changes in place.

    Reading or writing a session makes it the most recently used; past ``max_size`` the least
    recently used one is dropped (Bottender's ``maxSize``, 500 by default).

    What is written is checked and copied through JSON, so a non-JSON value fails here as it
    would in the file or redis store, and :meth:`read` hands out deep copies. The runner's
    own records (a :class:`CheckedRecord`, JSON-safe by construction and not used after the
    write) are kept as they are, and it reads them back as shallow copies
    (:meth:`read_for_event`): no JSON on the hot path, which halves the cost of an event.
    """

    def __init__(
        self, max_size: int = 500, *, expires_in: ExpiresIn = None, clock: Clock = time.time
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {max_size!r}.")
        self.max_size = max_size
        self._sessions: LRUCache[str, CheckedRecord] = LRUCache(maxsize=max_size)

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        try:
            snapshot = self._sessions[session_id]  # refreshes recency
        except KeyError:
            return None
        return _copy(snapshot)

    async def read_for_event(self, session_id: str) -> dict[str, Any] | None:
        """A shallow copy: the runner replaces fields, and never changes nested values."""
        try:
            snapshot = self._sessions[session_id]  # refreshes recency
        except KeyError:
            return None
        return self._event_copy(snapshot)

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Keep a checked snapshot of ``session``; a runner's CheckedRecord is kept as is."""
        if type(session) is not CheckedRecord:
            session = CheckedRecord(parse(dumps(session)))  # the check and the deep copy
        self._sessions[session_id] = session

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _destroy(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def _all(self) -> list[dict[str, Any]]:
        # Cache.__getitem__ reads without touching recency: listing is not using.
        return [_copy(Cache.__getitem__(self._sessions, key)) for key in list(self._sessions)]


def _copy(snapshot: CheckedRecord) -> dict[str, Any]:
    """A deep, plain copy (frozen state comes out as plain dicts and lists)."""
    return parse(dumps(snapshot))  # type: ignore[no-any-return]
