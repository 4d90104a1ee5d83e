"""What every platform provides: raw webhook body -> events -> session key.

Platforms are pure: no I/O, no knowledge of stores or the runner. Each platform module
defines one :class:`Platform` subclass; :mod:`bottender_nb.platforms` keeps the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


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
    """The value at ``path`` inside nested mappings; None where any step is missing."""
    for step in path:
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def as_key(value: Any) -> str | None:
    """An id as a str; None for a missing or empty one, never "None" or ""."""
    return None if value is None or value == "" else str(value)


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
        """The raw events a body carries (LINE ``events``, Messenger ``entry[].messaging``)."""
        return [body]

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

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        """Fields Bottender keeps on the session for this event: ``user`` and e.g. ``group``."""
        return {}

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        """A realistic webhook body for a simulated message (used by ``say`` and the chat pane)."""
        raise NotImplementedError
