"""Time travel over a session's history: list its turns, rewind to one, fork from one (SPEC §7).

Nothing is ever deleted: a rewind is a new turn (kind ``"rewind"``) whose state is that of an
earlier turn, and a fork is a new session whose history is a copy up to the chosen turn, then
a ``"fork"`` turn. Each verb holds the session(s) like an event does, so it falls in line with
the session's events, in this process and (file, redis) across processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

from ..errors import HistoryError
from ..frozen import thaw
from ..record import LAST_ACTIVITY_FIELD, STATE_FIELD
from ..stores.base import Clock, SessionStore
from ..stores.history import CheckedTurn
from ..turns import Turn, changed_keys


class Bot(Protocol):
    """What time travel needs of a :class:`~bottender_nb.session.runner.Bot` (which calls it)."""

    session_store: SessionStore
    clock: Clock
    keep_history: int

    async def _ensure_store(self) -> None: ...

    def _notify(self, turn: Turn) -> None: ...


async def history(bot: Bot, session_id: str) -> list[Turn]:
    """The session's kept turns, oldest first."""
    async with _holding(bot, session_id):
        records = await bot.session_store.turns(session_id)
    return [Turn.from_record(record, where=f"turn of {session_id!r}") for record in records]


async def rewind(bot: Bot, session_id: str, turn: int) -> Turn:
    """Make the state after ``turn`` the session's state again, as a new ``"rewind"`` turn."""
    async with _holding(bot, session_id):
        store = bot.session_store
        target = _find(await store.turns(session_id), session_id, turn)
        record = await store.read(session_id) or _new_record(session_id, target["platform"], {})
        return await record_turn(bot, record, "rewind", target["state"], {"rewind": {"to": turn}})


async def fork(bot: Bot, session_id: str, turn: int, to: str | None = None) -> str:
    """A new session whose state and history are ``session_id``'s up to ``turn``; its id."""
    platform = session_id.partition(":")[0]
    async with _holding(bot, session_id):
        store = bot.session_store
        turns = await store.turns(session_id)
        target = _find(turns, session_id, turn)
        source = await store.read(session_id) or {}
    new_id = await _new_id(bot, platform, session_id, to)
    async with _holding(bot, new_id):
        if await _exists(bot, new_id):
            raise HistoryError(f"{new_id!r} already exists; fork to another id or destroy it first.")
        copied = [{**record, "session_id": new_id} for record in turns if record["index"] <= turn]
        await store.require_history().replace(new_id, copied)
        record = _new_record(new_id, platform, source)
        record[STATE_FIELD] = target["state"]
        await record_turn(bot, record, "fork", target["state"], {"fork": {"from": session_id, "turn": turn}})
    return new_id


async def record_turn(
    bot: Bot, record: dict[str, Any], kind: str, state: Mapping[str, Any], raw: Any
) -> Turn:
    """Write ``state`` as the session's state and keep the change as a turn of ``kind``.

    The caller holds the session.
    """
    session_id = record["id"]
    before = thaw(record.get(STATE_FIELD) or {})
    now = bot.clock()
    record[STATE_FIELD] = thaw(state)
    record[LAST_ACTIVITY_FIELD] = int(now * 1000)
    turn = Turn(session_id, record.get("platform", session_id.partition(":")[0]), now, kind,
                raw=raw, state_before=before, state=record[STATE_FIELD],
                changed=changed_keys(before, record[STATE_FIELD]))
    await keep_and_write(bot, session_id, record, turn, raw)
    bot._notify(turn)
    return turn


async def keep_and_write(
    bot: Bot, session_id: str, record: dict[str, Any], turn: Turn, raw: Any
) -> None:
    """Keep ``turn`` (with ``raw``, a JSON-safe copy of its event) in the session's history,
    then write ``record``: the one way an event or a time-travel verb ends. The caller holds
    the session.

    In that order: a store may hand its lock to a waiting process with the write (Redis
    does), and a history gives indexes in order only under the lock.
    """
    store = bot.session_store
    history = store.history
    if bot.keep_history and history is not None:
        kept = CheckedTurn(turn.as_record(), raw=raw)
        turn.index = await history.append(session_id, kept, bot.keep_history)
    await store.write(session_id, record)


@asynccontextmanager
async def _holding(bot: Bot, session_id: str) -> AsyncIterator[None]:
    """Hold the session as an event does: in this process, then in the store."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(bot.session_store.locks.hold(session_id))
        await bot._ensure_store()
        await stack.enter_async_context(bot.session_store.lock(session_id))
        yield


def _find(turns: list[dict[str, Any]], session_id: str, turn: int) -> dict[str, Any]:
    for record in turns:
        if record.get("index") == turn:
            return record
    if not turns:
        raise HistoryError(f"{session_id!r} has no kept turns; chat with it first (see %turns).")
    raise HistoryError(
        f"Turn {turn!r} is not kept for {session_id!r}: its history keeps turns "
        f"{turns[0]['index']} to {turns[-1]['index']}; pick one of those (see %turns)."
    )


async def _new_id(bot: Bot, platform: str, session_id: str, to: str | None) -> str:
    """``to`` as a session id of ``platform``, or the first free ``<session_id>-fork<n>``."""
    if to is not None:
        if not isinstance(to, str) or not to:
            raise HistoryError(f"A fork's id must be a non-empty str, not {to!r}.")
        if ":" not in to:
            return f"{platform}:{to}"
        if to.partition(":")[0] != platform:
            raise HistoryError(
                f"A fork stays on its platform: {to!r} is not a {platform} session id; "
                f"use {platform}:<key>."
            )
        return to
    number = 1
    while await _exists(bot, f"{session_id}-fork{number}"):
        number += 1
    return f"{session_id}-fork{number}"


async def _exists(bot: Bot, session_id: str) -> bool:
    store = bot.session_store
    return await store.read(session_id) is not None or bool(await store.turns(session_id))


def _new_record(session_id: str, platform: str, source: Mapping[str, Any]) -> dict[str, Any]:
    """A session record for ``session_id``, with the other fields (user ...) of ``source``."""
    return {**source, "id": session_id, "platform": platform}
