"""Slack: one session per channel (everyone in a channel shares it), else per user.

Mirrors Bottender's ``SlackConnector``. A body is an Events API envelope (its ``event`` is the
raw event), an interactive form post (``payload`` holds the raw event as JSON), or a slash
command (the form fields are the raw event). The key is the first of ``channel.id``,
``channel_id``, the ``channelId`` that Bottender's ``views.open`` tucks into a modal's
``private_metadata`` JSON (``channel_id`` there works too), ``item.channel`` and ``channel``;
else the user's id. Messages sent by bots are not handled, so a bot does not answer itself.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ..errors import BodyError
from .base import Event, Platform, Source, as_key, event_id_of

TEAM_ID = "T02R00000"
APP_ID = "A6A00000"
_UI_EVENTS = ("interactive_message", "block_actions")


def _raw(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Bottender's raw event: the envelope's ``event``, the parsed ``payload``, else the body."""
    if isinstance(body.get("event"), Mapping):
        return body["event"]
    payload = body.get("payload")
    if not isinstance(payload, str):
        return body
    try:
        parsed = _parse(payload, "payload")
    except BodyError:
        raise
    except ValueError as exc:
        raise BodyError(
            f"Slack interactive payload is not JSON ({exc}); pass the form field as Slack sent it."
        ) from exc
    if not isinstance(parsed, Mapping):
        raise BodyError("Slack interactive payload is not a JSON object; pass it as sent.")
    return parsed


def _parse(text: str, field: str) -> Any:
    """JSON inside a body field; a BodyError (not a RecursionError) when nested too deep."""
    try:
        return json.loads(text)
    except RecursionError:
        raise BodyError(
            f"slack body field {field} holds JSON nested too deeply for Python to read "
            f"({len(text)} characters); pass the field as Slack sent it."
        ) from None


def _modal_channel(raw: Mapping[str, Any]) -> str | None:
    """The channel a modal was opened from, kept as JSON in ``view.private_metadata``."""
    view = raw.get("view")
    metadata = view.get("private_metadata") if isinstance(view, Mapping) else None
    if not isinstance(metadata, str) or not metadata:
        return None
    try:
        parsed = _parse(metadata, "view.private_metadata")
    except BodyError:
        raise
    except ValueError:
        return None  # an app's own metadata string; Bottender would throw here
    if not isinstance(parsed, Mapping):
        return None
    field = "channelId" if parsed.get("channelId") else "channel_id"
    return as_key(parsed.get(field), "slack", f"view.private_metadata {field}")


def _user_id(raw: Mapping[str, Any]) -> str | None:
    """The acting user: ``user.id`` of interactive payloads, ``user_id``, or ``user``."""
    user = raw.get("user")
    if isinstance(user, Mapping):
        return as_key(user.get("id"), "slack", "user.id")
    if raw.get("user_id"):
        return as_key(raw["user_id"], "slack", "user_id")
    return as_key(user, "slack", "user")


def _action_value(raw: Mapping[str, Any]) -> str | None:
    """The value of the button or menu option an interactive payload reports."""
    actions = raw.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(action, Mapping):
        return None
    value = action.get("value")
    if value is None and isinstance(action.get("selected_option"), Mapping):
        value = action["selected_option"].get("value")
    return value if isinstance(value, str) else None


class Slack(Platform):
    name = "slack"

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        raw = _raw(raw_event)
        channel = raw.get("channel")
        if isinstance(channel, Mapping) and channel.get("id"):
            return as_key(channel["id"], self.name, "channel.id")
        if raw.get("channel_id"):
            return as_key(raw["channel_id"], self.name, "channel_id")
        modal_channel = _modal_channel(raw)
        if modal_channel:
            return modal_channel
        item = raw.get("item")
        if isinstance(item, Mapping):
            item_channel = as_key(item.get("channel"), self.name, "item.channel")
            if item_channel:
                return item_channel
        if channel is not None and not isinstance(channel, Mapping):
            return as_key(channel, self.name, "channel") or _user_id(raw)
        return _user_id(raw)

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        raw = _raw(raw_event)
        text = raw.get("text") if raw.get("type") == "message" or raw.get("command") else None
        payload = _action_value(raw) if raw.get("type") in _UI_EVENTS else None
        return Event(raw=raw, text=text if isinstance(text, str) else None, payload=payload)

    def is_ignored(self, raw_event: Mapping[str, Any]) -> bool:
        # Slack's URL-verification handshake is answered before Bottender's handler runs.
        if raw_event.get("type") == "url_verification":
            return True
        raw = _raw(raw_event)
        return bool(raw.get("bot_id")) or raw.get("subtype") == "bot_message"

    def event_id(self, raw_event: Mapping[str, Any]) -> str | None:
        # The raw event is the whole Events API envelope, where ``event_id`` sits; interactive
        # payloads and slash commands have none.
        return event_id_of(raw_event.get("event_id"))

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        user_id = _user_id(_raw(raw_event))
        if self.is_ignored(raw_event) or user_id is None:
            return {}
        fields: dict[str, Any] = {"user": {"id": user_id}}
        channel_id = self.session_key(raw_event)
        if channel_id:
            fields["channel"] = {"id": channel_id}
        return fields

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        # Slack has no bare 1:1 session: a user alone talks to the bot in a DM channel.
        channel = source.group if source.group is not None else f"D{source.user}"
        ts = f"{time.time():.6f}"
        if payload is not None:
            return {"payload": json.dumps(_block_actions(payload, source.user, channel, ts))}
        event = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text or "",
            "user": source.user,
            "ts": ts,
            "team": TEAM_ID,
            "channel": channel,
            "event_ts": ts,
            "channel_type": "im" if source.group is None else "channel",
        }
        return {
            "token": "x" * 24,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(float(ts)),
            "authed_users": ["U6AK00000"],
        }


def _block_actions(value: str, user: str, channel: str, ts: str) -> dict[str, Any]:
    """A ``block_actions`` payload: the user pressed a button whose value is ``value``."""
    button = {"type": "plain_text", "text": value, "emoji": True}
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user, "name": user, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "x" * 24,
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "trigger_id": f"{uuid.uuid4().int % 10**13}.17443231012.{uuid.uuid4().hex}",
        "team": {"id": TEAM_ID, "domain": "example"},
        "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else channel},
        "response_url": f"https://hooks.slack.com/actions/{TEAM_ID}/1/{uuid.uuid4().hex}",
        "actions": [{
            "action_id": "button", "block_id": "actions", "text": button,
            "value": value, "type": "button", "action_ts": ts,
        }],
    }


PLATFORM = Slack()
