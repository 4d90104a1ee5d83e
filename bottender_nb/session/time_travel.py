"""Time travel over a session's history: list its turns, rewind to one, fork from one.

Nothing is ever deleted: a rewind is a new turn (kind ``"rewind"``) whose state is that of an
earlier turn, and a fork is a new session whose history is a copy up to the chosen turn, then
a ``"fork"`` turn. Both change sessions through the bot's one path (``Bot.apply_state``), so
they fall in line with the session's events, in this process and across processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..errors import HistoryError
from ..record import STATE_FIELD
from ..session_ids import join_session_id, split_session_id
from ..stores.base import SessionStore
from ..stores.history import TurnRecord
from ..turns import Turn


class Bot(Protocol):
    """The public API of :class:`~bottender_nb.session.runner.Bot` that time travel uses."""

    session_store: SessionStore

    async def read_session(self, session_id: str) -> dict[str, Any] | None: ...

    async def apply_state(self, session_id: str, state: Mapping[str, Any], *, kind: str = ...,
                          raw: Any = ..., history: list[TurnRecord] | None = ...,
                          start: Mapping[str, Any] | None = ..., new: bool = ...,
                          only_existing: bool = ...) -> Turn | None: ...


async def history(bot: Bot, session_id: str) -> list[Turn]:
    """The session's kept turns, oldest first."""
    records = await _turns(bot, session_id)
    return [Turn.from_record(record, where=f"turn of {session_id!r}") for record in records]


async def rewind(bot: Bot, session_id: str, turn: int) -> Turn:
    """Make the state after ``turn`` the session's state again, as a new ``"rewind"`` turn."""
    target = find(await _turns(bot, session_id), session_id, turn)
    made = await bot.apply_state(session_id, target["state"], kind="rewind",
                                 raw={"rewind": {"to": turn}})
    assert made is not None
    return made


async def fork(bot: Bot, session_id: str, turn: int, to: str | None = None) -> str:
    """A new session whose state and history are ``session_id``'s up to ``turn``; its id."""
    platform = split_session_id(session_id)[0]
    turns = await _turns(bot, session_id)
    target = find(turns, session_id, turn)
    new_id = await _new_id(bot, platform, session_id, to)
    copied = [{**record, "session_id": new_id} for record in turns if record["index"] <= turn]
    start = {**(await bot.read_session(session_id) or {}), STATE_FIELD: target["state"]}
    await bot.apply_state(new_id, target["state"], kind="fork", history=copied, start=start,
                          new=True, raw={"fork": {"from": session_id, "turn": turn}})
    return new_id


def exists_error(session_id: str) -> HistoryError:
    """Why a fork cannot go to ``session_id``."""
    return HistoryError(f"{session_id!r} already exists; fork to another id or destroy it first.")


def find(turns: list[TurnRecord], session_id: str, turn: int) -> TurnRecord:
    """The kept turn of index ``turn``; a HistoryError that lists what is kept if none."""
    for record in turns:
        if record.get("index") == turn:
            return record
    if not turns:
        raise HistoryError(f"{session_id!r} has no kept turns; chat with it first (see %turns).")
    raise HistoryError(
        f"Turn {turn!r} is not kept for {session_id!r}: its history keeps turns "
        f"{turns[0]['index']} to {turns[-1]['index']}; pick one of those (see %turns)."
    )


async def _turns(bot: Bot, session_id: str) -> list[TurnRecord]:
    """The session's kept turns, read in line with its events in this process."""
    store = bot.session_store
    async with store.locks.hold(session_id):
        await store.ready()
        return await store.turns(session_id)


async def _new_id(bot: Bot, platform: str, session_id: str, to: str | None) -> str:
    """``to`` as a session id of ``platform``, or the first free ``<session_id>-fork<n>``."""
    if to is not None:
        if not isinstance(to, str) or not to:
            raise HistoryError(f"A fork's id must be a non-empty str, not {to!r}.")
        if ":" not in to:
            return join_session_id(platform, to)
        if split_session_id(to)[0] != platform:
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


