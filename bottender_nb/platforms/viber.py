"""Viber: one session per user; the user's id sits in a different field per event kind.

Mirrors Bottender's ``ViberConnector`` (which reads ``userId``, Viber's ``user_id``
camel-cased). An event kind it does not list (``webhook``, the set-up callback, or one Viber
adds later) gets no session.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from .base import Event, Platform, Source, dig, event_id_of, key_at

# event kind -> path to the user's id in its body
_USER_ID_PATHS: dict[str, tuple[str, ...]] = {
    "subscribed": ("user", "id"),
    "conversation_started": ("user", "id"),
    "unsubscribed": ("user_id",),
    "delivered": ("user_id",),
    "seen": ("user_id",),
    "failed": ("user_id",),
    "message": ("sender", "id"),
}


class Viber(Platform):
    name = "viber"

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        kind = raw_event.get("event")
        path = _USER_ID_PATHS.get(kind) if isinstance(kind, str) else None
        return key_at(self.name, raw_event, *path) if path else None

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        message = raw_event.get("message") if raw_event.get("event") == "message" else None
        text = dig(message, "text") if dig(message, "type") == "text" else None
        return Event(raw=raw_event, text=(text or None) if isinstance(text, str) else None)

    def event_id(self, raw_event: Mapping[str, Any]) -> str | None:
        """``message_token``; a callback about a sent message (delivered, seen) carries that
        message's token, so its kind is added: each callback is an event of its own."""
        token = event_id_of(raw_event.get("message_token"))
        kind = raw_event.get("event")
        return token if token is None or kind == "message" else f"{token}:{kind}"

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        user_id = self.session_key(raw_event)
        return {"user": {"id": user_id}} if user_id else {}

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        return {
            "event": "message",
            "timestamp": int(time.time() * 1000),
            "chat_hostname": "SN-CHAT-01_",
            "message_token": uuid.uuid4().int % 10**19,
            "sender": {
                "id": source.user,
                "name": source.user,
                "avatar": "https://media-direct.cdn.viber.com/download_photo?dlid=example",
                "language": "en",
                "country": "US",
                "api_version": 10,
            },
            # Viber has no postbacks: a keyboard button's ActionBody arrives as message text.
            "message": {"text": payload if payload is not None else text or "", "type": "text"},
            "silent": False,
        }


PLATFORM = Viber()
