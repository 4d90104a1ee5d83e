"""Telegram: one session per chat (a group shares one), or per user where there is no chat.

Mirrors Bottender's ``TelegramConnector``, reading updates as Telegram sends them (snake_case;
Bottender camel-cases them first). Chat ids are integers and become ``str(id)``, as Bottender's
template strings make them. Updates that name neither a chat nor a user (a poll, a poll
answer, a chat-member change) get no session, as in Bottender.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .base import Event, Platform, Source, as_key, dig, event_id_of, key_at

BOT_USER = {"id": 313534466, "is_bot": True, "first_name": "Bottender", "username": "bottender_bot"}

# (update field, path to the key inside it), in Bottender's order of precedence.
_KEY_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("message", ("chat", "id")),
    ("edited_message", ("chat", "id")),
    ("channel_post", ("chat", "id")),
    ("edited_channel_post", ("chat", "id")),
    ("inline_query", ("from", "id")),
    ("chosen_inline_result", ("from", "id")),
    ("callback_query", ("message", "chat", "id")),
    ("callback_query", ("from", "id")),
    ("shipping_query", ("from", "id")),
    ("pre_checkout_query", ("from", "id")),
)
# Updates whose ``from`` Bottender keeps as ``session.user`` (channel posts have no user).
_USER_FIELDS = (
    "message", "edited_message", "inline_query", "chosen_inline_result",
    "callback_query", "shipping_query", "pre_checkout_query",
)
_GROUP_CHATS = (
    ("message", "chat"), ("edited_message", "chat"), ("callback_query", "message", "chat"),
)
_CHANNEL_CHATS = (("channel_post", "chat"), ("edited_channel_post", "chat"))


def _first(
    raw_event: Mapping[str, Any], paths: Iterable[tuple[str, ...]]
) -> Mapping[str, Any] | None:
    """The object at the first of ``paths`` the update has (an update has one kind)."""
    for path in paths:
        found = dig(raw_event, *path)
        if isinstance(found, Mapping):
            return found
    return None


def _telegram_id(value: str) -> int | str:
    """An id as Telegram sends it: an int where the simulated name is one ("-42" -> -42)."""
    try:
        number = int(value)
    except ValueError:
        return value
    return number if str(number) == value else value


class Telegram(Platform):
    name = "telegram"

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        for field, path in _KEY_PATHS:
            key = key_at(self.name, raw_event, field, *path)
            if key is not None:
                return key
        return None

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        text = dig(raw_event, "message", "text")
        payload = dig(raw_event, "callback_query", "data")
        return Event(
            raw=raw_event,
            text=text if isinstance(text, str) else None,
            payload=payload if isinstance(payload, str) else None,
        )

    def event_id(self, raw_event: Mapping[str, Any]) -> str | None:
        return event_id_of(raw_event.get("update_id"))

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        user = _first(raw_event, [(field, "from") for field in _USER_FIELDS])
        user_id = None if user is None else as_key(user.get("id"), self.name, "from.id")
        if user_id:
            fields["user"] = {"id": user_id}
        # Bottender keeps a ``group`` only for basic groups (chat type "group"), not supergroups.
        group = _first(raw_event, _GROUP_CHATS)
        group_id = None if group is None else as_key(group.get("id"), self.name, "chat.id")
        if group_id and group.get("type") == "group":
            fields["group"] = {"id": group_id}
        channel = _first(raw_event, _CHANNEL_CHATS)
        channel_id = None if channel is None else as_key(channel.get("id"), self.name, "chat.id")
        if channel_id:
            fields["channel"] = {"id": channel_id}
        return fields

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, Any]:
        sender = {
            "id": _telegram_id(source.user), "is_bot": False,
            "first_name": source.user, "language_code": "en",
        }
        if source.group is not None:
            chat = {"id": _telegram_id(source.group), "title": source.group, "type": "group",
                    "all_members_are_administrators": True}
        else:
            chat = {"id": sender["id"], "first_name": source.user, "type": "private"}
        number = uuid.uuid4().int
        message = {"message_id": number % 10**6, "chat": chat, "date": int(time.time())}
        if payload is None:
            message.update({"from": sender, "text": text or ""})
            return {"update_id": number % 10**9, "message": message}
        query = {
            "id": str(number % 10**19),
            "from": sender,
            "message": {**message, "from": BOT_USER, "text": "Choose one:"},
            "chat_instance": str(number % 10**18),
            "data": payload,
        }
        return {"update_id": number % 10**9, "callback_query": query}


PLATFORM = Telegram()
