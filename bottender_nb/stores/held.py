"""A session held for one change: the one way anything changes a session.

``async with store.hold(session_id) as held:`` waits the session's turn in this process
(:mod:`.locks`), then takes the store's lock shared with other processes (file, redis), and reads
the session: ``held.record``. The change is made from that record and ends with
``await held.commit(record, turn, keep)``, which stores the session **and its turn together**:
a commit that returns stored both, one that raises stored neither. Leaving the block without a
commit releases the session unchanged.

Cancelling a change while it waits for the session cancels it: the block is never entered, even
when a driver swallowed the cancellation in a retry (see :func:`raise_if_cancelled`).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Protocol

from .history import History, TurnRecord
from .locks import SessionLocks


class SessionStore(Protocol):
    """What holding needs of a :class:`~bottender_nb.stores.base.SessionStore`."""

    history: History | None
    locks: SessionLocks
    initialised: bool
    take_waits: bool

    async def ready(self) -> None: ...

    async def _take(self, session_id: str, cancels: int) -> HeldSession: ...

    async def _commit(self, held: HeldSession, record: dict[str, Any], turn: TurnRecord | None,
                      keep: int, history: list[TurnRecord] | None) -> int | None: ...

    async def _release(self, held: HeldSession) -> None: ...


class HeldSession:
    """One session held by one change, from its read to its commit (or its release).

    ``record`` is the live record as read (None when absent or expired); ``previous`` is
    what the store held, expired or not, for stores that must undo a half-done commit.
    Stores keep what they need to commit (a lock token, a file descriptor) in ``lease``.
    """

    __slots__ = ("store", "session_id", "record", "lease", "committed")

    def __init__(self, store: SessionStore, session_id: str, record: dict[str, Any] | None,
                 lease: Any = None) -> None:
        self.store = store
        self.session_id = session_id
        self.record = record
        self.lease = lease
        self.committed = False

    async def turns(self) -> list[TurnRecord]:
        """The session's kept turns, oldest first ([] for a store that keeps none)."""
        history = self.store.history
        return [] if history is None else await history.read(self.session_id)

    async def commit(
        self, record: dict[str, Any], turn: TurnRecord | None = None, keep: int = 0, *,
        history: list[TurnRecord] | None = None,
    ) -> int | None:
        """Store ``record`` and keep ``turn`` (its index back), both or neither; once.

        ``keep`` bounds the history (0 or no ``turn``: nothing is kept); ``history`` first
        makes those turns the session's whole history (a fork's copy).
        """
        if self.committed:
            raise RuntimeError(f"session {self.session_id!r} was already committed in this hold")
        if self.store.history is None or not keep:
            turn = history = None
        index = await self.store._commit(self, record, turn, keep, history)
        self.committed = True
        return index


class Holding:
    """``store.hold(session_id)``: in this process first, then across processes."""

    __slots__ = ("_store", "_session_id", "_held")

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self._store = store
        self._session_id = session_id
        self._held: HeldSession | None = None

    async def __aenter__(self) -> HeldSession:
        store, session_id = self._store, self._session_id
        task = asyncio.current_task() if store.take_waits else None  # None: nothing to watch
        cancels = _cancelling(task)
        if not store.locks.try_enter(session_id):  # an idle session enters with no coroutine
            await store.locks.enter(session_id)
        try:
            if not store.initialised:
                await store.ready()
            self._held = await store._take(session_id, cancels)
            if _cancelling(task) > cancels:  # asked to stop while we waited: never enter
                held, self._held = self._held, None
                await store._release(held)
                raise asyncio.CancelledError
        except BaseException:
            store.locks.leave(session_id)
            raise
        return self._held

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        held = self._held
        try:
            if held is not None and held.lease is not None:  # no lease: nothing to let go
                await self._store._release(held)
        finally:
            self._store.locks.leave(self._session_id)


def cancel_requests() -> int:
    """How many cancellations of the current task are pending (0 outside a task)."""
    return _cancelling(asyncio.current_task())


def _cancelling(task: asyncio.Task[Any] | None) -> int:
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+; before it, 0
    return 0 if cancelling is None else cancelling()


def raise_if_cancelled(before: int) -> None:
    """Raise CancelledError if this task was asked to stop since ``before`` (see
    :func:`cancel_requests`).

    A driver's retry may catch the cancellation of a call in flight as a timeout and try
    again (redis-py's ``Retry``); the request still shows in ``Task.cancelling()``, so a
    waiting loop that checks here stops at once instead of waiting on for the session.
    """
    if cancel_requests() > before:
        raise asyncio.CancelledError
