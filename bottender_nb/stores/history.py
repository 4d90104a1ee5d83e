"""Where a store keeps its sessions' histories: the turns of each session (SPEC §7).

Each store has one :class:`History`, kept "next to" its sessions but never where a session
loader (this package's ``all()`` or Bottender's own store) would read it as a session. The
runner appends a turn while it holds the session, so indexes are handed out in order; an
append costs the same at turn 10 as at turn 10,000: a history is never rewritten whole to add
one turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from cachetools import LRUCache

from ..errors import CorruptSessionError
from ..record import _STRICT, dumps_utf8, orjson, parse

TurnRecord = dict[str, Any]
"""A turn as stored: the JSON object of :meth:`bottender_nb.turns.Turn.as_record`."""


class CheckedTurn(dict):
    """A turn record the runner built from parts that are JSON-safe and that nobody changes:
    the checked copy of the event (:func:`bottender_nb.turns.copy_raw`), frozen states and
    fresh lists. The memory history keeps it as it is; any other dict is copied through JSON.

    A speed-only contract between the runner and the memory history, kept for one target:
    events with ``history=1000`` at >= 0.8x the rate of ``history=0`` on the memory store
    (``benchmarks/bench_history.py``), where a JSON copy per turn costs as much as the event."""

    __slots__ = ()


def encode_turn(turn: TurnRecord) -> bytes:
    """The turn's JSON (UTF-8) without its ``index``, which each store puts where it keeps it.

    The runner has checked the one part of a turn no edge checked before, the event's ``raw``
    (:func:`bottender_nb.turns.copy_raw`), so orjson encodes it as is; what orjson refuses
    (an int beyond 64 bits, a lone surrogate) goes through :func:`dumps_utf8`, which names it.
    """
    body = dict(turn)  # a copy and a pop: half the cost of a filtering comprehension
    body.pop("index", None)
    if orjson is not None:
        try:
            return orjson.dumps(body, option=_STRICT)
        except TypeError:
            pass
    return dumps_utf8(body)


class History(ABC):
    """The turns of every session of one store; ``keep`` bounds each, oldest dropped first."""

    @abstractmethod
    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        """Add ``turn`` as the session's next; its index (one past the last ever given)."""

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
        """:meth:`entries` a batch at a time (about ``size`` turns; a session's turns stay in
        one batch), for readers in bounded memory. Derived from :meth:`entries`; histories
        that can list as they go (files, Redis lists) override it."""
        entries = await self.entries()
        for start in range(0, len(entries), size):
            yield entries[start:start + size]


class MemoryHistory(History):
    """Histories kept in this process, for the memory store; as many as it keeps sessions.

    The runner's turns (:class:`CheckedTurn`) are kept as they are: no JSON per event. Any
    other turn is copied through JSON on the way in, and every read hands out JSON copies,
    so what a caller changes afterwards never changes a kept turn, as in the other stores.
    """

    def __init__(self, max_sessions: int) -> None:
        self._sessions: LRUCache[str, _Kept] = LRUCache(maxsize=max_sessions)
        # The session appended to last, still the most recently used one: its next turn skips
        # the LRU's lookup (a third of an append; keeping a turn is to cost an event at most
        # a fifth). Forgotten by anything else that uses the LRU.
        self._last: tuple[str, _Kept] | None = None

    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        last = self._last
        if last is not None and last[0] == session_id and last[1].turns.maxlen == keep:
            kept = last[1]
        else:
            try:
                kept = self._sessions[session_id]  # one lookup (get() makes two)
            except KeyError:
                kept = None
            if kept is None or kept.turns.maxlen != keep:
                kept = self._sessions[session_id] = _Kept(kept, keep)
            self._last = (session_id, kept)
        turn["index"] = index = kept.next_index
        kept.next_index += 1
        kept.turns.append(turn if type(turn) is CheckedTurn else _copy(turn))
        return index

    async def read(self, session_id: str) -> list[TurnRecord]:
        self._last = None
        kept = self._sessions.get(session_id)
        return [] if kept is None else [_copy(turn) for turn in kept.turns]

    async def replace(self, session_id: str, turns: list[TurnRecord]) -> None:
        kept = _Kept(None, max(len(turns), 1))
        kept.turns.extend(_copy(turn) for turn in turns)
        kept.next_index = turns[-1]["index"] + 1 if turns else 0
        self._last = None
        self._sessions[session_id] = kept

    async def destroy(self, session_id: str) -> None:
        self._last = None
        self._sessions.pop(session_id, None)

    async def entries(self) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        self._last = None
        return [
            (f"history of {session_id!r}", _copy(turn))
            for session_id, kept in list(self._sessions.items())
            for turn in kept.turns
        ]


def _copy(turn: TurnRecord) -> TurnRecord:
    """A plain, deep copy of a turn through JSON, as a persistent store would give it back."""
    record: TurnRecord = parse(encode_turn(turn))
    record["index"] = turn["index"]
    return record


class _Kept:
    """One session's turns and the next index; a new ``keep`` keeps the newest that fit."""

    __slots__ = ("next_index", "turns")

    def __init__(self, previous: _Kept | None, keep: int) -> None:
        self.turns: deque[TurnRecord] = deque(previous.turns if previous else (), maxlen=keep)
        self.next_index = previous.next_index if previous else 0
