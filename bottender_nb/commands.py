"""Bottender's console slash commands, shared by console mode and the chat pane.

``/state`` and ``/session`` print the stored state or session as indented JSON (as Bottender's
console does), ``/payload X`` sends a payload event, ``/reset`` starts the session over from
``initial_state``, ``/help`` lists them, ``/exit`` and ``/quit`` end a console.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .platforms import Source, get_platform
from .frozen import thaw
from .record import STATE_FIELD
from .session.runner import Bot
from .turns import Turn

COMMANDS = ("/state", "/session", "/payload X", "/reset", "/help", "/exit", "/quit")
HELP = (
    "Type a message to send it to the bot, or a command:\n"
    "  /state       the session's state, as JSON\n"
    "  /session     the whole stored session, as JSON\n"
    "  /payload X   send a payload event X (e.g. /payload GET_STARTED)\n"
    "  /reset       start the session over from the initial state\n"
    "  /help        this list\n"
    "  /exit, /quit leave the console"
)
PAYLOAD_USAGE = "/payload needs a payload to send: /payload X, e.g. /payload GET_STARTED."


@dataclass(frozen=True)
class Outcome:
    """What one line typed by a user produced."""

    replies: list[str]
    turns: list[Turn] = field(default_factory=list)
    exit: bool = False
    command: str | None = None


def session_id_for(platform: str, source: Source = Source()) -> str | None:
    """The session id a simulated message from ``source`` on ``platform`` is filed under."""
    handler = get_platform(platform)
    events = handler.split(handler.build_body(text="", source=source))
    key = handler.session_key(events[0]) if events else None
    return handler.session_id(key)


def as_json(value: Any) -> str:
    """Indented JSON, as Bottender's ``JSON.stringify(value, null, 2)``."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def state_of(bot: Bot, record: dict[str, Any] | None) -> Any:
    """What ``/state`` shows: the stored state, else the state the next event starts from."""
    return thaw(bot.initial_state) if record is None else record.get(STATE_FIELD, {})


async def handle_line(
    bot: Bot, line: str, *, platform: str = "console", source: Source = Source()
) -> Outcome:
    """Run one typed line: a slash command, or a text message to the bot."""
    command, _, argument = line.strip().partition(" ")
    lowered = command.lower()
    if lowered in ("/exit", "/quit"):
        return Outcome([], exit=True, command=lowered)
    if lowered == "/help":
        return Outcome([HELP], command=lowered)
    if lowered == "/payload" and not argument.strip():
        return Outcome([PAYLOAD_USAGE], command=lowered)
    if lowered in ("/state", "/session", "/reset"):
        session_id = session_id_for(platform, source)
        if lowered == "/reset":
            if session_id is not None:
                await bot.reset_session(session_id)
            return Outcome([f"State reset to {as_json(dict(bot.initial_state))}"], command=lowered)
        record = await bot.read_session(session_id) if session_id is not None else None
        if lowered == "/session":
            return Outcome([as_json(record)], command=lowered)
        return Outcome([as_json(state_of(bot, record))], command=lowered)
    handler = get_platform(platform)
    if lowered == "/payload":
        body = handler.build_body(payload=argument.strip(), source=source)
    else:
        body = handler.build_body(text=line, source=source)
    handled = [await bot.handle_event(raw_event, platform) for raw_event in handler.split(body)]
    turns = [turn for turn in handled if turn is not None]  # None: an event the platform ignores
    return Outcome([reply for turn in turns for reply in turn.replies], turns)
