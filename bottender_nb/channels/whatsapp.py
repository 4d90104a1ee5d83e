"""WhatsApp through Twilio: ``X-Twilio-Signature`` is the base64 HMAC-SHA1 of the public URL
followed by each form field's name and value, sorted, with the auth token; a reply is a
Twilio Message from the channel's number (the twilio SDK).

Twilio signs the URL it called, so a server behind a tunnel or proxy must be told that URL
(``public_url``): the one it sees differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import missing_extra
from .base import (
    UNREADABLE_ANSWER_ERRORS,
    Channel, WebhookRequest, b64, form_lists, parse_form, same, signature, unreachable_errors,
)


class WhatsappChannel(Channel):
    name = "whatsapp"
    default_api_base = "https://api.twilio.com"
    secret_options = ("authToken",)

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        number = options["phoneNumber"]
        self.number = number if number.startswith("whatsapp:") else f"whatsapp:{number}"
        self.public_url: str | None = None  # set by the webhook app it is served by

    def verify(self, request: WebhookRequest) -> bool:
        url = request.url if self.public_url is None else self.public_url.rstrip("/") + self.path
        text = url
        for name, values in sorted(form_lists(request.body).items()):
            text += "".join(name + value for value in sorted(set(values)))
        expected = b64(signature(self.options["authToken"], text.encode(), "sha1"))
        return same(expected, request.headers.get("x-twilio-signature"))

    def parse(self, request: WebhookRequest) -> Mapping[str, Any]:
        return parse_form(self.name, request.body)

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        try:
            from twilio.base.exceptions import TwilioException, TwilioRestException
            from twilio.http.async_http_client import AsyncTwilioHttpClient
            from twilio.rest import Client
        except ImportError as exc:
            raise missing_extra("twilio", "channels") from exc
        http_client = AsyncTwilioHttpClient()
        client = Client(self.options["accountSid"], self.options["authToken"],
                        http_client=http_client, environment={})
        client.api.base_url = self.api_base
        try:
            await client.messages.create_async(from_=self.number, to=raw_event.get("From"),
                                               body=text)
        except TwilioRestException as exc:
            raise self.refused(exc.status, exc.msg) from None
        except (TwilioException, *unreachable_errors()) as exc:
            raise self.refused("no answer", f"({type(exc).__name__}: {exc})") from None
        except UNREADABLE_ANSWER_ERRORS as exc:
            raise self.refused("what it could not read", f"({type(exc).__name__}: {exc})") from None
        finally:
            await http_client.close()
