"""LINE: one session per user, group or room, so everyone in a group shares one session.

Mirrors Bottender's ``LineConnector``: each of a body's ``events`` is handled on its own, keyed
by ``source.userId`` / ``groupId`` / ``roomId`` by ``source.type``; the events LINE sends when
the console's "Verify" button is pressed (reply token of all 0s or all fs) are not handled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from ..errors import SessionIdError, show
from .base import Event, Platform, Source, as_key, event_id_of, objects

DESTINATION = "U" + "b" * 32  # the bot's own user id, as LINE names it in ``destination``
VERIFY_REPLY_TOKENS = frozenset({"0" * 32, "f" * 32})
_SOURCE_ID_FIELDS = {"user": "userId", "group": "groupId", "room": "roomId"}


def _source(raw_event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's ``source``, or an error naming what LINE would never send."""
    source = raw_event.get("source")
    kind = source.get("type") if isinstance(source, Mapping) else None
    if not isinstance(kind, str) or kind not in _SOURCE_ID_FIELDS:
        what = f"source {show(source)}"
        if isinstance(source, Mapping):
            what = f"source type {show(kind)}"
        raise SessionIdError(
            f"LINE event {what} is not one of user, group, room, so no session "
            "key can be derived; pass a LINE webhook body (its events carry such a source)."
        )
    return source


class Line(Platform):
    name = "line"

    def raw_events(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return list(objects(self.name, body.get("events"), "events"))

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        source = _source(raw_event)
        field = _SOURCE_ID_FIELDS[source["type"]]
        return as_key(source.get(field), self.name, f"source.{field}")

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        message = raw_event.get("message")
        text = None
        if raw_event.get("type") == "message" and isinstance(message, Mapping):
            text = message.get("text") if message.get("type") == "text" else None
        postback = raw_event.get("postback")
        payload = None
        if raw_event.get("type") == "postback" and isinstance(postback, Mapping):
            payload = postback.get("data")
        return Event(
            raw=raw_event,
            text=text if isinstance(text, str) else None,
            payload=payload if isinstance(payload, str) else None,
        )

    def is_ignored(self, raw_event: Mapping[str, Any]) -> bool:
        token = raw_event.get("replyToken")
        return isinstance(token, str) and token in VERIFY_REPLY_TOKENS

    def event_id(self, raw_event: Mapping[str, Any]) -> str | None:
        return event_id_of(raw_event.get("webhookEventId"))

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        source = _source(raw_event)
        kind = source["type"]
        user_id = as_key(source.get("userId"), self.name, "source.userId")
        # In a group or room LINE may omit the speaker; Bottender then stores ``user: null``
        # rather than keep the previous speaker.
        fields: dict[str, Any] = {"type": kind, "user": {"id": user_id} if user_id else None}
        if kind != "user":
            fields[kind] = {"id": self.session_key(raw_event)}
        return fields

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "replyToken": uuid.uuid4().hex,
            "type": "message" if payload is None else "postback",
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": _build_source(source),
            "webhookEventId": uuid.uuid4().hex[:26].upper(),
            "deliveryContext": {"isRedelivery": False},
        }
        if payload is None:
            event["message"] = {
                "id": str(uuid.uuid4().int)[:18],
                "type": "text",
                "quoteToken": uuid.uuid4().hex,
                "text": text or "",
            }
        else:
            event["postback"] = {"data": payload}
        return {"destination": str(source.extra.get("destination", DESTINATION)), "events": [event]}


def _build_source(source: Source) -> dict[str, str]:
    """A LINE ``source``: the group if one is named, else the room, else the user alone."""
    if source.group is not None:
        return {"type": "group", "groupId": source.group, "userId": source.user}
    if source.room is not None:
        return {"type": "room", "roomId": source.room, "userId": source.user}
    return {"type": "user", "userId": source.user}


PLATFORM = Line()
