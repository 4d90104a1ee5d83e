"""Who talks to a session: the simulated user, group or room whose messages are filed under it.

A fork gets a new session id; to talk to it the pane (or ``%say``) must speak as a source
whose messages land there. Each guess is checked with the platform's own session key, so a
platform whose key is not a plain user, group or room id gets None, never a wrong source.
"""

from __future__ import annotations

from ..commands import session_id_for
from ..platforms import Source


def source_for(platform: str, session_id: str, like: Source = Source()) -> Source | None:
    """A source on ``platform`` whose messages go to ``session_id``, shaped like ``like``.

    A group's fork is talked to as a group (by ``like``'s user), a private chat's as a user.
    """
    prefix, _, key = session_id.partition(":")
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
