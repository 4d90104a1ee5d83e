"""LINE: ``X-Line-Signature`` is the base64 HMAC-SHA256 of the body with the channel secret;
a reply goes through the reply API with the event's reply token (line-bot-sdk).

A reply token can be used once, so a second ``send_text`` in the same event is pushed to
the event's user, group or room instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cachetools import TTLCache

from ..errors import missing_extra
from ..platforms.line import PLATFORM
from .base import (UNREADABLE_ANSWER_ERRORS, Channel, WebhookRequest, b64, same, signature,
                   unreachable_errors)

REPLY_TOKEN_LIFETIME = 60  # seconds: LINE refuses an older reply token anyway


class LineChannel(Channel):
    name = "line"
    default_api_base = "https://api.line.me"
    secret_options = ("channelSecret", "accessToken")

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self._used_tokens: TTLCache[str, bool] = TTLCache(10_000, REPLY_TOKEN_LIFETIME)

    def verify(self, request: WebhookRequest) -> bool:
        expected = b64(signature(self.options["channelSecret"], request.body))
        return same(expected, request.headers.get("x-line-signature"))

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        try:
            from linebot.v3 import messaging
        except ImportError as exc:
            raise missing_extra("line-bot-sdk", "channels") from exc
        token = raw_event.get("replyToken")
        message = messaging.TextMessage(text=text)
        configuration = messaging.Configuration(
            host=self.api_base, access_token=self.options["accessToken"])
        try:
            async with messaging.AsyncApiClient(configuration) as client:
                api = messaging.AsyncMessagingApi(client)
                if isinstance(token, str) and token not in self._used_tokens:
                    self._used_tokens[token] = True
                    await api.reply_message(
                        messaging.ReplyMessageRequest(reply_token=token, messages=[message]))
                else:
                    to = PLATFORM.session_key(raw_event)
                    await api.push_message(messaging.PushMessageRequest(to=to, messages=[message]))
        except messaging.ApiException as exc:
            raise self.refused(exc.status, _text(exc.body)) from None
        except unreachable_errors() as exc:
            raise self.refused("no answer", f"({type(exc).__name__}: {exc})") from None
        except UNREADABLE_ANSWER_ERRORS as exc:
            raise self.refused("what it could not read", f"({type(exc).__name__}: {exc})") from None


def _text(body: Any) -> str:
    return body.decode(errors="replace") if isinstance(body, bytes) else str(body)
