"""The one small async interface every session store implements.

A store keeps session records (see :mod:`bottender_nb.record`) by session id.
Subclasses implement four primitives on raw records; expiry, copies and the public verbs
Bottender users know (``read / write / destroy / all``) are derived here once.

Every change to a session goes through :meth:`SessionStore.hold` (:mod:`.held`): the session is
held in this process (:attr:`SessionStore.locks`, so every ``Bot`` sharing one store takes its
turn in arrival order), then across processes, read, and committed with its turn. A store
implements that through three more primitives, ``_take``, ``_commit`` and ``_release``; the
defaults here serve stores that share nothing across processes (memory, mongo).
"""

from __future__ import annotations

import datetime as dt
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from ..errors import ConfigError, CorruptSessionError, StoreError, show
from ..record import LAST_ACTIVITY_FIELD, copy_record
from .held import HeldSession, Holding, cancel_requests
from .history import History, TurnRecord
from .locks import SessionLocks

Clock = Callable[[], float]
"""Seconds since the epoch, like :func:`time.time`; tests pass a fake one."""

ExpiresIn = float | int | dt.timedelta | None


def to_timedelta(expires_in: ExpiresIn) -> dt.timedelta | None:
    """Bottender's ``expiresIn`` is minutes; a timedelta is taken as is; 0/None never expires."""
    if expires_in is None:
        return None
    if isinstance(expires_in, dt.timedelta):
        delta = expires_in
    elif isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
        try:
            delta = dt.timedelta(minutes=expires_in)
        except (ValueError, OverflowError):  # NaN, inf, or more than a timedelta holds
            delta = None
        if delta is None:
            raise ConfigError(f"expires_in is {show(expires_in)}; it must be a finite number of "
                              "minutes (or a datetime.timedelta), e.g. expires_in=30.")
    else:
        raise ConfigError(
            "expires_in must be minutes (a number) or a datetime.timedelta, not "
            f"{show(expires_in)}; e.g. expires_in=30."
        )
    if delta < dt.timedelta(0):
        raise ConfigError(f"expires_in must not be negative, got {show(expires_in)}; use 0 or None "
                          "for sessions that never expire.")
    return delta or None


class SessionStore(ABC):
    """Async session storage: ``init``, ``read``, ``write``, ``destroy``, ``all``.

    :param expires_in: minutes (or a timedelta) after ``lastActivity`` when a session
        reads as absent, so the next event starts from ``initial_state``.
    :param clock: the time source for expiry, ``time.time`` by default.
    """

    history: History | None = None
    """Where this store keeps its sessions' turns; None: it keeps none."""

    take_waits: bool = True
    """Whether :meth:`_take` may wait (for another process's lock, for I/O), so that holding
    watches for a cancellation a driver swallows meanwhile. False for a store whose ``_take``
    returns at once (memory): there is no wait to watch, and on Python 3.11 finding the task
    to watch costs a system call (``getpid``, in ``asyncio.current_task``) on every event."""

    def __init__(self, *, expires_in: ExpiresIn = None, clock: Clock = time.time) -> None:
        self.expires_in = to_timedelta(expires_in)
        self.clock = clock
        self.locks = SessionLocks()
        """Events of one session, one at a time in arrival order, across every Bot using this
        store in this process (:meth:`hold` takes it first)."""
        self.initialised = False
        """True once :meth:`init` ran through :meth:`ready`."""

    # -- primitives a store implements ------------------------------------------------

    @abstractmethod
    async def _read(self, session_id: str) -> dict[str, Any] | None:
        """The stored record (a fresh copy), expired or not; None when there is none."""

    @abstractmethod
    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        """Store ``record`` (already a JSON-safe copy) under ``session_id``."""

    @abstractmethod
    async def _destroy(self, session_id: str) -> None:
        """Delete the record; deleting an absent one is not an error."""

    @abstractmethod
    async def _all(self) -> list[dict[str, Any]]:
        """Every stored record of this store, expired or not."""

    # -- the public interface ------------------------------------------------------------

    async def init(self) -> SessionStore:
        """Connect or create what the store needs; returns the store for chaining."""
        return self

    async def close(self) -> None:
        """Release connections; the store may not be used afterwards."""

    async def ready(self) -> None:
        """:meth:`init` once, before the first change."""
        if not self.initialised:
            await self.init()
            self.initialised = True

    async def read(self, session_id: str) -> dict[str, Any] | None:
        """The live session, or None when it is absent or has expired."""
        record = await self._read(session_id)
        if record is None or self.is_expired(record):
            return None
        return record

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Store a copy of ``session``; a non-JSON value raises and stores nothing."""
        await self._write(session_id, copy_record(session))

    async def destroy(self, session_id: str) -> None:
        """Forget the session, and its history."""
        await self._destroy(session_id)
        if self.history is not None:
            await self.history.destroy(session_id)

    async def all(self) -> list[dict[str, Any]]:
        """Every live (unexpired) session; a stored entry that is not a record raises."""
        return [record for record in await self._all() if not self.is_expired(record)]

    async def entries(self) -> list[tuple[str, dict[str, Any] | CorruptSessionError]]:
        """Every stored session, expired or not, as ``(where, record or its error)``.

        For loaders (``sessions_frame``) that must report a bad entry and go on: ``where``
        names the file, key or document. This default serves stores that cannot hold a bad
        entry (memory); stores of raw data (file, redis, mongo) give each entry its error.
        """
        return [(f"session {record.get('id')!r}", record) for record in await self._all()]

    async def entry_batches(
        self, size: int = 1000
    ) -> AsyncIterator[list[tuple[str, dict[str, Any] | CorruptSessionError]]]:
        """:meth:`entries`, a batch of at most ``size`` at a time, for readers that must not
        hold every session at once (exports). Derived here from :meth:`entries`; stores that
        can list as they go (a directory, a Redis SCAN) override it."""
        entries = await self.entries()
        for start in range(0, len(entries), size):
            yield entries[start:start + size]

    # -- holding a session for one change (see :mod:`.held`) ------------------------------

    def hold(self, session_id: str) -> Holding:
        """``async with store.hold(id) as held``: the session, held and read, to commit once."""
        return Holding(self, session_id)

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """Hold the session against other processes only (not this one's events), then let
        it go unchanged: what another process sees while one of ours holds it."""
        held = await self._take(session_id, cancel_requests())
        try:
            yield
        finally:
            await self._release(held)

    async def _take(self, session_id: str, cancels: int) -> HeldSession:
        """Take the session's cross-process lock (none here) and read it.

        ``cancels``: the task's pending cancellations before the wait began; a store that waits
        in a loop stops when there are more (:func:`.held.raise_if_cancelled`).
        """
        record = await self._read(session_id)
        if record is not None and self.is_expired(record):
            record = None
        return HeldSession(self, session_id, record)

    async def _commit(
        self, held: HeldSession, record: dict[str, Any], turn: TurnRecord | None, keep: int,
        history: list[TurnRecord] | None,
    ) -> int | None:
        """Store ``record`` and keep ``turn``, both or neither: the turn is kept first, and
        taken back if the session write fails (``commit`` passes a turn only to a store with
        a history)."""
        session_id, kept = held.session_id, self.history
        if history is not None:
            await kept.replace(session_id, history)  # type: ignore[union-attr]
        index = None if turn is None else await kept.append(session_id, turn, keep)  # type: ignore[union-attr]
        try:
            await self.write(session_id, record)  # each store's write checks and copies once
        except BaseException:
            if history is not None:
                await kept.destroy(session_id)  # type: ignore[union-attr]
            elif index is not None:
                await kept.undo(session_id, index)  # type: ignore[union-attr]
            raise
        return index

    async def _release(self, held: HeldSession) -> None:
        """Let the session go, committed or not (nothing to release here)."""

    # -- conversation history -----------------------------------------------------------

    def require_history(self) -> History:
        """This store's :class:`History`; a clear error for a store that keeps none."""
        if self.history is None:
            raise StoreError(
                f"{type(self).__name__} keeps no conversation history, so it has no turns to "
                "list, rewind or fork; give it one (self.history = a History) or use a store "
                "that keeps one (memory, file, redis, mongo)."
            )
        return self.history

    async def turns(self, session_id: str) -> list[TurnRecord]:
        """The session's kept turns, oldest first."""
        return await self.require_history().read(session_id)

    # -- derived helpers -----------------------------------------------------------------

    def is_expired(self, record: Mapping[str, Any]) -> bool:
        """True when the record's ``lastActivity`` is older than ``expires_in``."""
        if self.expires_in is None:
            return False
        last_activity = record.get(LAST_ACTIVITY_FIELD)
        if not isinstance(last_activity, (int, float)) or isinstance(last_activity, bool):
            return False
        age_ms = self.clock() * 1000 - last_activity
        return age_ms > self.expires_in.total_seconds() * 1000

    @property
    def expires_in_seconds(self) -> float | None:
        """``expires_in`` in seconds, for drivers that expire keys themselves."""
        return None if self.expires_in is None else self.expires_in.total_seconds()

    async def __aenter__(self) -> SessionStore:
        return await self.init()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
