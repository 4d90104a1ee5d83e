"""Console: Bottender's one-user console; a simulated chat may name other users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Event, Platform, Source, dig


class Console(Platform):
    name = "console"

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        # Bottender's console always talks to user "1"; ``_user`` lets a simulation name others.
        return str(raw_event.get("_user", "1"))

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        return Event(
            raw=raw_event, text=dig(raw_event, "message", "text"), payload=raw_event.get("payload")
        )

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
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
