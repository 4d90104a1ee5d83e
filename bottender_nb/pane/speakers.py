"""Who speaks: the simulated user, and the group or room they write in, on each platform.

:func:`user_id_of` says who sent a turn, :func:`stored_users` who spoke before a pane opened.
:func:`check_source` refuses a source a platform's simulated messages cannot carry (for ``%say``,
``%chat`` and the pane's picker alike). :func:`source_for` finds who talks to a session: a fork
gets a new session id, and to talk to it the pane (or ``%say``) must speak as a source whose
messages land there. Each guess is checked with the platform's own session key, so a platform
whose key is not a plain user, group or room id gets None, never a wrong source.
"""

from __future__ import annotations

from typing import Any

from ..commands import session_id_for
from ..errors import BottenderNbError, CellError
from ..platforms import Source, get_platform, split_session_id
from ..stores.memory import MemorySessionStore
from ..turns import Turn

# The shared conversations a platform's simulated bodies can carry, and what users call them.
SHARED_CHATS: dict[str, dict[str, str]] = {
    "line": {"group": "group", "room": "room"},
    "slack": {"group": "channel"},
    "telegram": {"group": "group"},
}


def check_source(platform: str, *, user: str | None = None, group: str | None = None,
                 room: str | None = None) -> None:
    """Refuse an empty id, a group or room the platform's simulated messages cannot carry, or
    both at once."""
    for kind, given in (("user", user), ("group", group), ("room", room)):
        if given is not None and not given.strip():
            raise CellError(f"--{kind} needs an id, not {given!r}; e.g. --{kind} 2.")
    if group is not None and room is not None:
        raise CellError(f"--group {group!r} and --room {room!r} were both given; a message is "
                        "sent in one group or one room: keep one of them.")
    kinds = SHARED_CHATS.get(platform, {})
    for kind, chat_id in (("group", group), ("room", room)):
        if chat_id is not None and kind not in kinds:
            offered = ", ".join(f"--{name} (a {label})" for name, label in kinds.items())
            fix = f"use {offered}" if offered else "drop it: its chats are private, one per user"
            raise CellError(f"The {platform} platform has no {kind}s, so --{kind} {chat_id!r} "
                            f"cannot be used; {fix}.")


def source_for(platform: str, session_id: str, like: Source = Source()) -> Source | None:
    """A source on ``platform`` whose messages go to ``session_id``, shaped like ``like``.

    A group's fork is talked to as a group (by ``like``'s user), a private chat's as a user.
    """
    prefix, key = split_session_id(session_id)
    if prefix != platform or not key:
        return None
    private = Source(user=key)
    group, room = Source(user=like.user, group=key), Source(user=like.user, room=key)
    if like.room is not None:
        guesses = (room, group, private)
    elif like.group is not None:
        guesses = (group, private, room)
    else:
        guesses = (private, group, room)
    for guess in guesses:
        try:
            found = session_id_for(platform, guess)
        except Exception:  # a platform without groups or rooms: that guess cannot be it
            continue
        if found == session_id:
            return guess
    return None


def user_id_of(turn: Turn) -> str | None:
    """The id of the user who sent ``turn``'s event, as the platform files it."""
    if turn.kind != "event" or not isinstance(turn.raw, dict):
        return None  # a rewind, fork or reset: nobody spoke
    user = get_platform(turn.platform).session_fields(turn.raw).get("user")
    return _id_of(user)


async def stored_users(store: Any, platform: str) -> list[str]:
    """The users of ``platform`` whose sessions ``store`` holds, if it is kept in this process.

    Only a memory store (at most ``max_size`` sessions) is listed: listing a file directory,
    Redis or Mongo store may mean reading millions of sessions to open a chat pane.
    """
    if not isinstance(store, MemorySessionStore):
        return []
    try:
        records = await store.all()
    except BottenderNbError:  # a broken entry: no users offered; reading it reports it
        return []
    found = (_id_of(record.get("user")) for record in records
             if record.get("platform") == platform)
    return [user for user in found if user is not None]


def _id_of(user: Any) -> str | None:
    user_id = user.get("id") if isinstance(user, dict) else None
    return user_id if isinstance(user_id, str) and user_id else None
