"""Messenger: one session per user (page-scoped id); a page's echo is filed under its user.

Mirrors Bottender's ``MessengerConnector``: every ``entry`` of a body carries its own events,
taken from ``messaging``, else ``standby`` (another app owns the thread), else ``changes``
(the dashboard's webhook test, which has no sender and so no session). Bottender camel-cases
bodies before reading them (``isEcho``); we read them as Facebook sends them (``is_echo``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from .base import Event, Platform, Source, dig, event_id_of, key_at, objects

# The page that simulated bodies are addressed to, unless ``Source.extra["page"]`` names one.
PAGE_ID = "1895382890692545"
_EVENT_LISTS = ("messaging", "standby", "changes")


def _is_echo(raw_event: Mapping[str, Any]) -> bool:
    """True for a message the page itself sent (Messenger echoes it back to the webhook)."""
    return bool(dig(raw_event, "message", "is_echo"))


class Messenger(Platform):
    name = "messenger"

    def raw_events(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        if "entry" not in body:
            # Policy-enforcement, app-roles and thread-control bodies are one bare event.
            return [body]
        events: list[Mapping[str, Any]] = []
        for index, entry in enumerate(objects(self.name, body.get("entry"), "entry")):
            kind = next((k for k in _EVENT_LISTS if entry.get(k)), None)
            if kind is not None:
                events.extend(objects(self.name, entry[kind], f"entry[{index}].{kind}"))
        return events

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        if _is_echo(raw_event):
            recipient = key_at(self.name, raw_event, "recipient", "id")
            if recipient is not None:
                return recipient
        return key_at(self.name, raw_event, "sender", "id")

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        text = dig(raw_event, "message", "text")
        payload = dig(raw_event, "postback", "payload")
        if not isinstance(payload, str):
            payload = dig(raw_event, "message", "quick_reply", "payload")
        return Event(
            raw=raw_event,
            text=(text or None) if isinstance(text, str) else None,
            payload=(payload or None) if isinstance(payload, str) else None,
        )

    def event_id(self, raw_event: Mapping[str, Any]) -> str | None:
        """The ``mid`` of a message or a postback; other events (delivery, read) have none."""
        return event_id_of(dig(raw_event, "message", "mid") or dig(raw_event, "postback", "mid"))

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        user_id = self.session_key(raw_event)
        fields: dict[str, Any] = {"user": {"id": user_id}} if user_id else {}
        page_side = "sender" if _is_echo(raw_event) else "recipient"
        page_id = key_at(self.name, raw_event, page_side, "id")
        if page_id:
            fields["page"] = {"id": page_id}
        return fields

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        page_id = str(source.extra.get("page", PAGE_ID))
        now = int(time.time() * 1000)
        item: dict[str, Any] = {
            "sender": {"id": source.user},
            "recipient": {"id": page_id},
            "timestamp": now,
        }
        mid = f"m_{uuid.uuid4().hex}"
        if payload is not None:
            item["postback"] = {"title": payload, "payload": payload, "mid": mid}
        else:
            item["message"] = {"mid": mid, "text": text or ""}
        return {"object": "page", "entry": [{"id": page_id, "time": now, "messaging": [item]}]}


PLATFORM = Messenger()
