"""What every channel provides: a webhook request checked as its platform signs it, the body
parsed as its platform posts it, and a reply delivered through its platform's API.

A channel knows nothing of the web framework serving it (it sees a :class:`WebhookRequest`)
nor of the runner (the runner calls :meth:`Channel.send_text` as its ``Delivery``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, parse_qsl

from ..errors import BodyError, DeliveryError


@dataclass(frozen=True)
class WebhookRequest:
    """One request to a channel's path, as the server received it (header names lowercase)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """What a channel answers itself, without handling an event (a platform's handshake)."""

    status: int
    text: str = ""
    json: Any = None


def mask(secret: str) -> str:
    """A secret as it may be shown: its first 4 characters (none if it is short), then '…'."""
    return f"{secret[:4]}…" if len(secret) >= 12 else "…"


def signature(secret: str, message: bytes, digest: str = "sha256") -> bytes:
    """The HMAC of ``message`` keyed with ``secret`` (the scheme every platform signs with)."""
    return hmac.new(secret.encode(), message, getattr(hashlib, digest)).digest()


def same(expected: str | bytes, given: str | None) -> bool:
    """Constant-time equality of a computed signature and the header (absent: False)."""
    if given is None:
        return False
    expected_bytes = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(expected_bytes, given.encode("utf-8", "surrogateescape"))


def unreachable_errors() -> tuple[type[BaseException], ...]:
    """What the SDKs' aiohttp transport raises when the platform cannot be reached."""
    import asyncio

    import aiohttp

    return (OSError, asyncio.TimeoutError, aiohttp.ClientError)


UNREADABLE_ANSWER_ERRORS = (ValueError, TypeError, AttributeError, KeyError)
"""What an SDK raises when the platform's answer is not the shape it reads (a proxy's page)."""


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class Channel:
    """One configured platform endpoint: verify, parse, answer handshakes, deliver replies."""

    name: ClassVar[str]
    default_api_base: ClassVar[str]
    secret_options: ClassVar[tuple[str, ...]]  # the options never shown in full

    def __init__(self, options: Mapping[str, Any]) -> None:
        """``options``: the channel's Bottender-shaped options, already checked."""
        self.options = dict(options)
        self.path: str = options.get("path") or f"/webhooks/{self.name}"
        self.api_base: str = (options.get("apiBase") or self.default_api_base).rstrip("/")

    def __repr__(self) -> str:
        shown = {k: mask(v) if k in self.secret_options and isinstance(v, str) else v
                 for k, v in self.options.items()}
        return f"{type(self).__name__}(path={self.path!r}, options={shown!r})"

    @property
    def secrets(self) -> list[str]:
        return [v for k, v in self.options.items() if k in self.secret_options and v]

    def hide(self, text: str) -> str:
        """``text`` with every secret of this channel masked (platform answers, errors)."""
        for secret in self.secrets:
            text = text.replace(secret, mask(secret))
        return text

    def verify(self, request: WebhookRequest) -> bool:
        """True when the request is signed as the platform signs it."""
        raise NotImplementedError

    def handshake(self, request: WebhookRequest) -> Answer:
        """The answer to a GET on the path (only Messenger has a GET handshake)."""
        return Answer(405, f"{self.name} webhooks are POST requests.")

    def parse(self, request: WebhookRequest) -> Mapping[str, Any]:
        """The webhook body as the platform module reads it; a BodyError when it is not one."""
        return parse_json(self.name, request.body)

    def answer(self, body: Mapping[str, Any]) -> Answer | None:
        """A body the channel answers itself instead of handling (Slack's url_verification)."""
        return None

    async def send_text(self, raw_event: Mapping[str, Any], text: str) -> None:
        """Deliver ``text`` in reply to ``raw_event``; a DeliveryError when the platform refuses."""
        raise NotImplementedError

    def refused(self, status: int | str, answer: Any) -> DeliveryError:
        """The DeliveryError for the platform's ``answer``, its secrets masked."""
        shown = answer if isinstance(answer, str) else json.dumps(answer, default=str)
        return DeliveryError(self.hide(
            f"{self.name} did not deliver the reply: it answered {status} {shown[:300]}; "
            f"check the channel's credentials and that {self.api_base} is reachable."
        ).replace("\n", " "))


def parse_json(platform: str, raw: bytes) -> Any:
    """A JSON object body, or a one-line BodyError."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise BodyError(f"{platform} webhook body is not JSON ({reason}); "
                        f"post the body as {platform} sends it.") from None
    if not isinstance(body, dict):
        raise BodyError(f"{platform} webhook body is a JSON {type(body).__name__}, not an "
                        f"object; post the body as {platform} sends it.")
    return body


def parse_form(platform: str, raw: bytes) -> dict[str, str]:
    """A urlencoded form body as a flat dict (the last value of a repeated field)."""
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(f"{platform} webhook body is not a form ({exc}); "
                        f"post the body as {platform} sends it.") from None


def form_lists(raw: bytes) -> dict[str, list[str]]:
    """Every value of every form field (Twilio signs them all); {} when not a form."""
    try:
        return parse_qs(raw.decode(), keep_blank_values=True)
    except (ValueError, UnicodeDecodeError):
        return {}


def is_form(request: WebhookRequest) -> bool:
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
