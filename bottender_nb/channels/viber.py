"""Viber: ``X-Viber-Content-Signature`` is the hex HMAC-SHA256 of the body with the auth
token; a reply is ``send_message`` to the user. The ``webhook`` callback Viber sends when
the webhook is set is answered, not handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..platforms.viber import PLATFORM
from . import http
from .base import Answer, Channel, WebhookRequest, same, signature


class ViberChannel(Channel):
    name = "viber"
    default_api_base = "https://chatapi.viber.com"
    secret_options = ("accessToken",)

    def verify(self, request: WebhookRequest) -> bool:
        expected = signature(self.options["accessToken"], request.body).hex()
        return same(expected, request.headers.get("x-viber-content-signature"))

    def answer(self, body: Mapping[str, Any]) -> Answer | None:
        return Answer(200, "") if body.get("event") == "webhook" else None

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        response = await http.post(
            self, f"{self.api_base}/pa/send_message",
            headers={"X-Viber-Auth-Token": self.options["accessToken"]},
            json={"receiver": PLATFORM.session_key(raw_event), "min_api_version": 1,
                  "sender": dict(self.options["sender"]), "type": "text", "text": text},
        )
        answer = http.answer_of(response)
        # Viber answers 200 with a nonzero ``status`` when it refuses.
        if response.status_code != 200 or not (isinstance(answer, dict) and answer.get("status") == 0):
            raise self.refused(response.status_code, answer)
