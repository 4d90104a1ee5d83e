"""Where a store keeps its sessions' histories: the turns of each session.

Each store has one :class:`History`, kept "next to" its sessions but never where a session
loader (this package's ``all()`` or Bottender's own store) would read it as a session. The
runner appends a turn while it holds the session, so indexes are handed out in order; an
append costs the same at turn 10 as at turn 10,000: a history is never rewritten whole to add
one turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any

from ..errors import CorruptSessionError
from ..record import _STRICT, dumps_utf8, orjson, parse

TurnRecord = dict[str, Any]
"""A turn as stored: the JSON object of :meth:`bottender_nb.turns.Turn.as_record`."""


def encode_turn(turn: TurnRecord) -> bytes:
    """The turn's JSON (UTF-8) without its ``index``, which each store puts where it keeps it.

    The runner has checked the one part of a turn no edge checked before, the event's ``raw``
    (:func:`bottender_nb.turns.copy_raw`), so orjson encodes it as is; what orjson refuses
    (an int beyond 64 bits, a lone surrogate) goes through :func:`dumps_utf8`, which names it.
    The encoding is the turn's copy: what the caller changes afterwards never changes it.
    A turn being committed has no index yet (:meth:`~bottender_nb.turns.Turn.as_record`);
    a kept turn copied (a fork's) has one, which is left out.
    """
    if "index" in turn:
        turn = {name: value for name, value in turn.items() if name != "index"}
    if orjson is not None:
        try:
            return orjson.dumps(turn, option=_STRICT)
        except TypeError:
            pass
    return dumps_utf8(turn)


class History(ABC):
    """The turns of every session of one store; ``keep`` bounds each, oldest dropped first."""

    @abstractmethod
    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        """Add ``turn`` as the session's next; its index (one past the last ever given)."""

    @abstractmethod
    async def undo(self, session_id: str, index: int) -> None:
        """Take back turn ``index``, just appended, whose session write failed (the caller
        still holds the session, so it is the last)."""

    @abstractmethod
    async def read(self, session_id: str) -> list[TurnRecord]:
        """The session's kept turns, oldest first ([] when it has none)."""

    @abstractmethod
    async def replace(self, session_id: str, turns: list[TurnRecord]) -> None:
        """Make ``turns`` (indexes set) the session's whole history: a fork's copy."""

    @abstractmethod
    async def destroy(self, session_id: str) -> None:
        """Forget the session's turns."""

    @abstractmethod
    async def entries(self) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        """Every kept turn of every session, or why one cannot be read (for turns_frame)."""

    async def entry_batches(
        self, size: int = 10_000
    ) -> AsyncIterator[list[tuple[str, TurnRecord | CorruptSessionError]]]:
        """:meth:`entries` a batch at a time (about ``size`` turns), for readers in bounded
        memory. Derived from :meth:`entries`; histories that can list as they go (files, Redis
        lists) override it."""
        entries = await self.entries()
        for start in range(0, len(entries), size):
            yield entries[start:start + size]


class MemoryHistory(History):
    """Histories kept in this process, for the memory store; as many as it keeps sessions.

    Each turn is kept as its JSON text, like the memory store's sessions: a turn round-trips
    as in the other stores, and nothing a caller holds is ever shared with a kept turn. The
    histories whose sessions were used least recently are dropped first, as the store drops
    its sessions (an ``OrderedDict``, least recently used first, as there).
    """

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, _Kept] = OrderedDict()

    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        return self.add(session_id, encode_turn(turn), keep, turn)

    def add(self, session_id: str, text: bytes, keep: int, turn: TurnRecord) -> int:
        """Keep a turn already encoded (``text``); its index, also set in ``turn``."""
        kept = self._sessions.get(session_id)
        if kept is None or kept.turns.maxlen != keep:
            kept = _Kept(kept, keep)
        keep_recent(self._sessions, session_id, kept, self.max_sessions)
        turn["index"] = index = kept.next_index
        kept.next_index += 1
        kept.turns.append((index, text))
        return index

    async def undo(self, session_id: str, index: int) -> None:
        kept = self._sessions.get(session_id)
        if kept is not None and kept.turns and kept.turns[-1][0] == index:
            kept.turns.pop()
            kept.next_index = index

    async def read(self, session_id: str) -> list[TurnRecord]:
        kept = self._sessions.get(session_id)
        return [] if kept is None else [_parse(*kept_turn) for kept_turn in kept.turns]

    async def replace(self, session_id: str, turns: list[TurnRecord]) -> None:
        self.replace_now(session_id, turns)

    def replace_now(self, session_id: str, turns: list[TurnRecord]) -> None:
        """:meth:`replace`, for a caller with nothing to await."""
        kept = _Kept(None, max(len(turns), 1))
        kept.turns.extend((turn["index"], encode_turn(turn)) for turn in turns)
        kept.next_index = turns[-1]["index"] + 1 if turns else 0
        keep_recent(self._sessions, session_id, kept, self.max_sessions)

    async def destroy(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def entries(self) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        return [
            (f"history of {session_id!r}", _parse(*kept_turn))
            for session_id, kept in list(self._sessions.items())
            for kept_turn in kept.turns
        ]


def keep_recent(items: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    """Keep ``value`` as the most recently used of ``items`` (least recently used first),
    dropping the least recently used past ``limit``: the memory store's LRU, and its history's.

    Moved to the end before it is set, so that an event of another thread, dropping the
    least recently used meanwhile, never drops it between the two steps.
    """
    try:
        items.move_to_end(key)
    except KeyError:
        pass  # a new one: setting it puts it at the end
    items[key] = value
    if len(items) > limit:
        items.popitem(last=False)


def mark_used(items: OrderedDict[str, Any], key: str) -> Any:
    """``items[key]`` (None when absent), now the most recently used."""
    value = items.get(key)
    if value is not None:
        try:
            items.move_to_end(key)
        except KeyError:
            pass  # dropped meanwhile by another thread's write: this is still the last value
    return value


def _parse(index: int, text: bytes) -> TurnRecord:
    record: TurnRecord = parse(text)
    record["index"] = index
    return record


class _Kept:
    """One session's turns (index, JSON) and the next index; a new ``keep`` keeps the newest."""

    __slots__ = ("next_index", "turns")

    def __init__(self, previous: _Kept | None, keep: int) -> None:
        self.turns: deque[tuple[int, bytes]] = deque(previous.turns if previous else (), maxlen=keep)
        self.next_index = previous.next_index if previous else 0
