"""Telegram: ``X-Telegram-Bot-Api-Secret-Token`` equals the channel's ``secretToken`` when
one is set (Telegram signs nothing else); a reply is ``sendMessage`` to the update's chat.

The bot token is part of every Bot API URL. httpx logs each URL it requests, so the token
is put in only by the transport, below the client that logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..platforms.telegram import PLATFORM
from . import http
from .base import Channel, WebhookRequest, same

_PLACEHOLDER = "/bot-token-/"


class TelegramChannel(Channel):
    name = "telegram"
    default_api_base = "https://api.telegram.org"
    secret_options = ("accessToken", "secretToken")

    def verify(self, request: WebhookRequest) -> bool:
        secret = self.options.get("secretToken")
        given = request.headers.get("x-telegram-bot-api-secret-token")
        return secret is None or same(secret, given)

    async def call(self, method: str, params: Mapping[str, Any], *, timeout: float = http.TIMEOUT):
        """The Bot API's raw answer to ``method`` (getUpdates, sendMessage ...)."""
        return await http.post(
            self, f"{self.api_base}{_PLACEHOLDER}{method}", json=dict(params),
            transport=_TokenTransport(self.options["accessToken"]), timeout=timeout)

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        response = await self.call(
            "sendMessage", {"chat_id": PLATFORM.session_key(raw_event), "text": text})
        answer = http.answer_of(response)
        if response.status_code != 200 or not (isinstance(answer, dict) and answer.get("ok")):
            raise self.refused(response.status_code, answer)


def _TokenTransport(token: str) -> Any:  # noqa: N802 - a class made once httpx is imported
    httpx = http._httpx()

    class TokenTransport(httpx.AsyncHTTPTransport):
        """Puts the bot token into the path as the request leaves (after httpx logged it)."""

        async def handle_async_request(self, request: Any) -> Any:
            # A new request: the client logs the URL of the one it made, once answered.
            path = request.url.raw_path.replace(_PLACEHOLDER.encode(), f"/bot{token}/".encode(), 1)
            sent = httpx.Request(request.method, request.url.copy_with(raw_path=path),
                                 headers=request.headers, stream=request.stream,
                                 extensions=request.extensions)
            return await super().handle_async_request(sent)

    return TokenTransport()
