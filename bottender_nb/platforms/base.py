"""What every platform provides: raw webhook body -> events -> session key.

Platforms are pure: no I/O, no knowledge of stores or the runner. Each platform module
defines one :class:`Platform` subclass; :mod:`bottender_nb.platforms` keeps the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import BodyError, SessionIdError, show
from ..session_ids import join_session_id


class Event:
    """One incoming event, as an action sees it through ``context.event``."""

    __slots__ = ("raw", "text", "payload")

    def __init__(
        self, raw: Mapping[str, Any], text: str | None = None, payload: str | None = None
    ) -> None:
        self.raw = raw
        self.text = text
        self.payload = payload

    def __repr__(self) -> str:
        return f"Event(text={self.text!r}, payload={self.payload!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.raw, self.text, self.payload) == (other.raw, other.text, other.payload)

    __hash__ = None  # type: ignore[assignment]

    @property
    def is_text(self) -> bool:
        """True for a text message (Bottender's ``event.isText``)."""
        return self.text is not None

    @property
    def is_payload(self) -> bool:
        """True for a postback / callback / button payload."""
        return self.payload is not None

    # Bottender spellings, so code ported from its docs reads the same.
    isText = is_text  # noqa: N815
    isPayload = is_payload  # noqa: N815


def dig(value: Any, *path: str) -> Any:
    """The value at ``path`` inside nested mappings; None where any step is missing.

    For content (text, payload, flags) that a malformed body may lack; ids go through
    :func:`key_at`, which refuses a wrong-typed step instead of reading past it.
    """
    for step in path:
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


# The one check at the body -> event edge: every field a session key or a session field is
# built from goes through ``key_at`` / ``as_key`` (ids) or ``objects`` (event lists), so a
# malformed body fails there with a BodyError / SessionIdError naming the field.

def key_at(platform: str, raw: Any, *path: str) -> str | None:
    """:func:`as_key` of the id at ``path``; None where a step is missing or null.

    A step that is there but is not an object (``"chat": [1]``) is a BodyError naming it.
    """
    value = raw
    for depth, step in enumerate(path):
        if value is None:
            return None
        if type(value) is not dict and not isinstance(value, Mapping):
            raise BodyError(
                f"{platform} body field {'.'.join(path[:depth])} is a {show(value)}, not an "
                f"object, so {'.'.join(path)} cannot be read; pass the body as {platform} sent it."
            )
        value = value.get(step)
    return as_key(value, platform, ".".join(path))


_LONGEST_ID = 10**64  # numeric ids beyond 64 digits are refused, not stringified


def as_key(value: Any, platform: str = "", field: str = "id") -> str | None:
    """An id as a str: a str as is, an int (or integral float) as its digits, as Bottender's
    ``String(id)``; None for a missing, null or empty one, never "None" or "".

    Anything else (a bool, a fractional float, an object, a list, a number of more than 64
    digits) is a SessionIdError naming ``field``: nothing is filed under ``telegram:{'a': 1}``.
    """
    kind = type(value)
    if kind is str:
        return value or None
    if value is None:
        return None
    if kind is int or (isinstance(value, int) and not isinstance(value, bool)):
        if abs(value) < _LONGEST_ID:  # str() of a 5,000-digit int is a ValueError
            return str(int(value))
    elif isinstance(value, float) and value.is_integer() and abs(value) < _LONGEST_ID:
        return str(int(value))
    elif isinstance(value, str):
        return str(value) or None
    raise SessionIdError(
        f"{platform + ' ' if platform else ''}body field {field} is a {show(value)}; "
        f"a session id is a string or an integer, so pass the body as the platform sent it."
    )


def objects(platform: str, value: Any, field: str) -> list[Mapping[str, Any]]:
    """A list of objects (LINE ``events``, Messenger ``entry``); [] when missing or null."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BodyError(
            f"{platform} body field {field} is a {show(value)}, not a list of objects; "
            f"pass the body as {platform} sent it."
        )
    for index, item in enumerate(value):
        require_object(platform, item, f"{field}[{index}]")
    return value


def require_object(platform: str, value: Any, field: str) -> Mapping[str, Any]:
    """``value`` when it is an object (a JSON object / Mapping); else a BodyError naming it."""
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise BodyError(
        f"{platform} {field} is a {show(value)}, not a JSON object; pass the webhook body "
        f"as {platform} sent it (e.g. a dict from json.loads of the request body)."
    )


def event_id_of(value: Any) -> str | None:
    """A platform's event id as text; None when it is missing or not a string or integer
    (such an event is simply not recognised when redelivered)."""
    if type(value) is str:
        return value or None
    if type(value) is int:
        return str(value)
    return None


@dataclass(frozen=True)
class Source:
    """Who a simulated message comes from: a user, optionally inside a group or room."""

    user: str = "1"
    group: str | None = None
    room: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Platform:
    """Derives session keys and events from one platform's raw webhook bodies."""

    name: ClassVar[str]

    def split(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The raw events a body carries (LINE ``events``, Messenger ``entry[].messaging``).

        The body and each event are checked to be objects: a BodyError names what is not.
        """
        return self.raw_events(require_object(self.name, body, "webhook body"))

    def raw_events(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The events of a body already known to be an object; the body itself by default.

        Each event is checked once, here: a platform whose events are a list inside the body
        takes them through :func:`objects`, which names the item that is not an object.
        """
        return [body]

    def session_id(self, key: str | None) -> str | None:
        """The session id Bottender files ``key`` under, ``platform:key``; None without a key
        (:mod:`bottender_nb.session_ids` holds the rule, and splits ids again)."""
        return join_session_id(self.name, key)

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        """The key part of ``platform:key``, as Bottender derives it; None when there is none.

        Raises :class:`~bottender_nb.errors.SessionIdError` for a body the platform never sends
        (e.g. an unknown LINE source type), naming what was wrong.
        """
        raise NotImplementedError

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        """The event an action sees: text, payload, raw."""
        raise NotImplementedError

    def is_ignored(self, raw_event: Mapping[str, Any]) -> bool:
        """True for events Bottender does not handle (Slack bot messages, LINE verification)."""
        return False

    def event_id(self, raw_event: Mapping[str, Any]) -> str | None:
        """The id the platform gives this event, the same on each redelivery of it (LINE
        ``webhookEventId``, Slack ``event_id``, Telegram ``update_id`` ...); None if it has none.

        Events that come through a channel are handled once per id and session.
        """
        return None

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        """Fields Bottender keeps on the session for this event: ``user`` and e.g. ``group``."""
        return {}

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        """A realistic webhook body for a simulated message (used by ``say`` and the chat pane)."""
        raise NotImplementedError
