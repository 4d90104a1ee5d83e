"""Messenger: ``X-Hub-Signature-256`` is ``sha256=`` and the hex HMAC-SHA256 of the body with
the app secret; the GET handshake echoes ``hub.challenge`` for the right verify token; a reply
goes through the Send API to the event's user.

The page token travels in the Authorization header, not the URL, so no log line of a URL
carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..platforms.messenger import PLATFORM
from . import http
from .base import Answer, Channel, WebhookRequest, same, signature

GRAPH_VERSION = "v21.0"


class MessengerChannel(Channel):
    name = "messenger"
    default_api_base = "https://graph.facebook.com"
    secret_options = ("appSecret", "accessToken", "verifyToken")

    def verify(self, request: WebhookRequest) -> bool:
        expected = "sha256=" + signature(self.options["appSecret"], request.body).hex()
        return same(expected, request.headers.get("x-hub-signature-256"))

    def handshake(self, request: WebhookRequest) -> Answer:
        query = request.query
        if query.get("hub.mode") != "subscribe":
            return Answer(400, "messenger: a GET is the subscribe handshake (hub.mode=subscribe).")
        if not same(self.options["verifyToken"], query.get("hub.verify_token")):
            return Answer(403, "messenger: hub.verify_token is not this channel's verifyToken.")
        return Answer(200, query.get("hub.challenge", ""))

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        response = await http.post(
            self, f"{self.api_base}/{GRAPH_VERSION}/me/messages",
            headers={"Authorization": f"Bearer {self.options['accessToken']}"},
            json={"recipient": {"id": PLATFORM.session_key(raw_event)},
                  "messaging_type": "RESPONSE", "message": {"text": text}},
        )
        if response.status_code != 200:
            raise self.refused(response.status_code, http.answer_of(response))
