"""Console: Bottender's one-user console; a simulated chat may name other users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import SessionIdError
from .base import Event, Platform, Source, as_key


class Console(Platform):
    name = "console"

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        # Bottender's console always talks to user "1"; ``_user`` lets a simulation name others.
        if "_user" not in raw_event:
            return "1"
        key = as_key(raw_event["_user"], "console", "_user")
        if key is None:
            raise SessionIdError(
                f"console body field _user is {raw_event['_user']!r}; name the simulated user "
                "with a non-empty string, or leave _user out to be user \"1\"."
            )
        return key

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        message, payload = raw_event.get("message"), raw_event.get("payload")
        text = message.get("text") if type(message) is dict or isinstance(message, Mapping) else None
        return Event(
            raw_event,
            text if isinstance(text, str) else None,
            payload if isinstance(payload, str) else None,
        )

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        if "_user" not in raw_event:  # Bottender's console user
            return {"user": {"id": "1", "name": "you"}}
        user_id = self.session_key(raw_event)
        return {"user": {"id": user_id, "name": "you" if user_id == "1" else user_id}}

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"payload": payload} if payload is not None else {
            "message": {"text": text}
        }
        if source.user != "1":
            body["_user"] = source.user
        return body


PLATFORM = Console()
