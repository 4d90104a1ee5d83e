"""What an action sends: replies, the channel that delivers them, and the check that each
``context.send_text(...)`` was awaited."""

from __future__ import annotations

from collections.abc import Awaitable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ActionError
from ..platforms import Platform
from ..stores.held import HeldSession


@dataclass(frozen=True, slots=True)
class Reply:
    """One message the bot sent; ``str(reply)`` is its text."""

    text: str
    session_id: str | None = None

    def __str__(self) -> str:
        return self.text


class Delivery(Protocol):
    """Sends replies to a real user: the channel an event came through (LINE, Telegram ...).

    An event handled with a delivery is also handled once per platform event id: the
    platform's redelivery of it is skipped.
    """

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        """Deliver ``text`` in reply to ``raw_event``; a DeliveryError when the platform refuses."""


class Sending:
    """What ``context.send_text(text)`` returns: awaiting it sends the reply.

    Not awaiting it is the most common slip in async Python, and it would lose the reply
    silently, so the runner checks every send was awaited once the action returns
    (:func:`check_all_awaited`).
    """

    __slots__ = ("text", "awaited", "_send")

    def __init__(self, text: str, send: Awaitable[None]) -> None:
        self.text = text
        self.awaited = False
        self._send = send

    def __await__(self) -> Generator[Any, None, None]:
        self.awaited = True
        return self._send.__await__()

    def discard(self) -> None:
        """Close the send that never ran (no "never awaited" RuntimeWarning on top of our error)."""
        close = getattr(self._send, "close", None)
        if close is not None:
            close()


def check_all_awaited(sendings: list[Sending]) -> None:
    """An ActionError naming the first reply whose send was never awaited."""
    missed = [sending for sending in sendings if not sending.awaited]
    for sending in missed:
        sending.discard()
    if missed:
        raise ActionError(
            f"context.send_text({missed[0].text!r:.60}) was never awaited, so the reply was not "
            "sent; write `await context.send_text(...)`."
        )


async def handled_before(held: HeldSession, handler: Platform, raw_event: Mapping[str, Any]) -> bool:
    """True when the held session's kept turns hold this event's platform id: a platform's
    redelivery of an event already handled (also by another process sharing the store)."""
    event_id = handler.event_id(raw_event)
    if event_id is None:
        return False
    for kept in reversed(await held.turns()):
        raw = kept.get("raw")
        if kept.get("kind") == "event" and isinstance(raw, Mapping) and (
                handler.event_id(raw) == event_id):
            return True
    return False
