"""Slack: ``X-Slack-Signature`` is ``v0=`` and the hex HMAC-SHA256 of ``v0:{timestamp}:{body}``
with the signing secret, and the timestamp is at most 5 minutes old (no replays); the
``url_verification`` handshake echoes its challenge; a reply is ``chat.postMessage``
(slack_sdk) to the event's channel, in its thread when it came from one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import missing_extra
from ..platforms.slack import PLATFORM
from .base import (
    UNREADABLE_ANSWER_ERRORS,
    Answer, Channel, WebhookRequest, is_form, parse_form, parse_json, same, signature,
    unreachable_errors,
)

MAX_AGE = 5 * 60  # seconds, Slack's own window


class SlackChannel(Channel):
    name = "slack"
    default_api_base = "https://slack.com"
    secret_options = ("signingSecret", "accessToken")

    def __init__(self, options: Mapping[str, Any], *, clock: Callable[[], float] = time.time):
        """``clock``: the time the request timestamp is checked against (a fake in tests)."""
        super().__init__(options)
        self.clock = clock

    def verify(self, request: WebhookRequest) -> bool:
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > MAX_AGE:
            return False
        base = b"v0:" + timestamp.encode() + b":" + request.body
        expected = "v0=" + signature(self.options["signingSecret"], base).hex()
        return same(expected, request.headers.get("x-slack-signature"))

    def parse(self, request: WebhookRequest) -> Mapping[str, Any]:
        """Events API JSON, or a form: an interactive ``payload`` or a slash command."""
        if is_form(request):
            return parse_form(self.name, request.body)
        return parse_json(self.name, request.body)

    def answer(self, body: Mapping[str, Any]) -> Answer | None:
        if body.get("type") == "url_verification":
            return Answer(200, json={"challenge": body.get("challenge")})
        return None

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        try:
            from slack_sdk.errors import SlackApiError, SlackClientError
            from slack_sdk.web.async_client import AsyncWebClient
        except ImportError as exc:
            raise missing_extra("slack-sdk", "channels") from exc
        client = AsyncWebClient(token=self.options["accessToken"], base_url=self.api_base + "/api/")
        thread = raw_event.get("thread_ts")
        try:
            await client.chat_postMessage(
                channel=PLATFORM.session_key(raw_event), text=text,
                **({"thread_ts": thread} if isinstance(thread, str) else {}))
        except SlackApiError as exc:
            raise self.refused(exc.response.status_code, exc.response.data) from None
        except (SlackClientError, *unreachable_errors()) as exc:
            raise self.refused("no answer", f"({type(exc).__name__}: {exc})") from None
        except UNREADABLE_ANSWER_ERRORS as exc:
            raise self.refused("what it could not read", f"({type(exc).__name__}: {exc})") from None
