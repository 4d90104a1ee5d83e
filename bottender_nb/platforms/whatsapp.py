"""WhatsApp through Twilio: one session per user's ``whatsapp:+number``.

Twilio posts form fields (a flat dict of strings). Like Bottender's ``WhatsappConnector``, the
key is ``From`` for a received message and ``To`` for a status callback (sent, delivered, read),
so both land in the user's session. The key keeps Twilio's ``whatsapp:`` prefix, so session ids
read ``whatsapp:whatsapp:+15551234567``, exactly as Bottender files them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .base import Event, Platform, Source, as_key, event_id_of

BOT_NUMBER = "whatsapp:+14155238886"  # Twilio's WhatsApp sandbox number
ACCOUNT_SID = "AC" + "0" * 32


def _is_received(raw_event: Mapping[str, Any]) -> bool:
    """True for a message from the user (not a status callback about one the bot sent)."""
    return raw_event.get("SmsStatus") == "received"


class Whatsapp(Platform):
    name = "whatsapp"

    def session_key(self, raw_event: Mapping[str, Any]) -> str | None:
        field = "From" if _is_received(raw_event) else "To"
        return as_key(raw_event.get(field), self.name, field)

    def event(self, raw_event: Mapping[str, Any]) -> Event:
        # Bottender's isText: a received message without media (a caption is not a text).
        is_text = _is_received(raw_event) and raw_event.get("NumMedia", "0") == "0"
        text = raw_event.get("Body")
        return Event(raw=raw_event, text=text if is_text and isinstance(text, str) else None)

    def event_id(self, raw_event: Mapping[str, Any]) -> str | None:
        """``MessageSid``; a status callback adds its status, as each status of one sent
        message (sent, delivered, read) is an event of its own."""
        sid = event_id_of(raw_event.get("MessageSid"))
        if sid is None or _is_received(raw_event):
            return sid
        return f"{sid}:{raw_event.get('MessageStatus', raw_event.get('SmsStatus'))}"

    def session_fields(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        user_id = self.session_key(raw_event)
        return {"user": {"id": user_id}} if user_id else {}

    def build_body(
        self, *, text: str | None = None, payload: str | None = None, source: Source = Source()
    ) -> dict[str, str]:
        sender = source.user if source.user.startswith("whatsapp:") else f"whatsapp:{source.user}"
        sid = "SM" + uuid.uuid4().hex
        body = {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": source.user,
            "SmsSid": sid,
            "WaId": sender.removeprefix("whatsapp:").lstrip("+"),
            "SmsStatus": "received",
            # WhatsApp has no postbacks: a tapped quick-reply button arrives as its text.
            "Body": payload if payload is not None else text or "",
            "To": str(source.extra.get("to", BOT_NUMBER)),
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        if payload is not None:
            body.update(MessageType="button", ButtonText=payload, ButtonPayload=payload)
        return body


PLATFORM = Whatsapp()
