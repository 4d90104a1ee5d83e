"""Loopback stand-ins of the platforms' APIs, and webhook requests signed as each platform
signs them, for the channel tests.

The stand-in is a real HTTP server on 127.0.0.1 (the stdlib's, in a thread) that records
every request and answers as the platform does; the SDKs reach it through their own
host / base URL options, as they would reach the platform.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from linebot.v3.webhook import SignatureValidator
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

# What each API answers on success (the fields its SDK reads).
SUCCESS: dict[str, tuple[int, Any]] = {
    "/v2/bot/message/": (200, {"sentMessages": [{"id": "461230966842064897", "quoteToken": "q"}]}),
    "/v21.0/me/messages": (200, {"recipient_id": "1254477777772919", "message_id": "m_1"}),
    "/api/chat.postMessage": (200, {"ok": True, "channel": "C1", "ts": "1503435956.000247"}),
    "/bot": (200, {"ok": True, "result": {"message_id": 1, "date": 0, "chat": {"id": 1}}}),
    "/pa/send_message": (200, {"status": 0, "status_message": "ok", "message_token": 1}),
    "/2010-04-01/Accounts/": (201, {"sid": "SM" + "1" * 32, "status": "queued"}),
}


@dataclass
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lowercase
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}


class StandIn:
    """A recording HTTP server; ``fail(status, answer)`` makes every later answer an error."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.error: tuple[int, Any] | None = None
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                standin.requests.append(Recorded(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, answer = standin.error or next(
                    (ok for prefix, ok in SUCCESS.items() if self.path.startswith(prefix)),
                    (404, {"error": "no such method"}))
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail(self, status: int, answer: Any) -> None:
        self.error = (status, answer)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Secrets long enough that a masked one shows 4 characters and hides the rest.
SECRETS = {
    "line": {"channelSecret": "line-channel-secret-0123456789",
             "accessToken": "line-access-token-0123456789"},
    "messenger": {"appSecret": "messenger-app-secret-0123456789",
                  "accessToken": "messenger-page-token-0123456789",
                  "verifyToken": "messenger-verify-token-0123"},
    "slack": {"signingSecret": "slack-signing-secret-0123456789",
              "accessToken": "xoxb-slack-bot-token-0123456789"},
    "telegram": {"accessToken": "123456:telegram-bot-token-0123456789",
                 "secretToken": "telegram-secret-token-0123"},
    "viber": {"accessToken": "viber-auth-token-0123456789", "sender": {"name": "Bot"}},
    "whatsapp": {"accountSid": "AC" + "a" * 32, "authToken": "twilio-auth-token-0123456789",
                 "phoneNumber": "whatsapp:+14155238886"},
}


def channels_config(api_base: str | None = None) -> dict[str, dict[str, Any]]:
    """Every platform's channel, pointed at ``api_base`` when given."""
    extra = {} if api_base is None else {"apiBase": api_base}
    return {name: {**options, **extra} for name, options in SECRETS.items()}


def encode(platform: str, body: dict[str, Any]) -> tuple[bytes, str]:
    """The body as the platform posts it, and its content type."""
    if platform == "whatsapp" or (platform == "slack" and "event" not in body
                                  and "type" not in body):
        return urlencode(body).encode(), "application/x-www-form-urlencoded"
    return json.dumps(body).encode(), "application/json"


def _hmac(secret: str, message: bytes, digest: Any = hashlib.sha256) -> bytes:
    return hmac.new(secret.encode(), message, digest).digest()


def sign(platform: str, raw: bytes, *, secrets: dict[str, Any] | None = None,
         url: str = "", timestamp: int | None = None) -> dict[str, str]:
    """The signature headers of ``raw``: line-bot-sdk, slack_sdk and twilio's own code where
    they have it, the platforms' documented algorithms for Messenger, Telegram and Viber."""
    secret = {**SECRETS[platform], **(secrets or {})}
    if platform == "line":
        signature = base64.b64encode(_hmac(secret["channelSecret"], raw)).decode()
        assert SignatureValidator(secret["channelSecret"]).validate(raw.decode(), signature)
        return {"x-line-signature": signature}
    if platform == "slack":
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        verifier = SignatureVerifier(secret["signingSecret"])
        return {"x-slack-request-timestamp": stamp,
                "x-slack-signature": verifier.generate_signature(timestamp=stamp, body=raw)}
    if platform == "whatsapp":
        params = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        return {"x-twilio-signature":
                RequestValidator(secret["authToken"]).compute_signature(url, params)}
    if platform == "messenger":  # Meta: "sha256=" + hex HMAC-SHA256 of the payload, app secret
        return {"x-hub-signature-256": "sha256=" + _hmac(secret["appSecret"], raw).hex()}
    if platform == "telegram":  # Bot API: the secret_token given to setWebhook, as is
        return {"x-telegram-bot-api-secret-token": secret["secretToken"]}
    if platform == "viber":  # Viber: hex HMAC-SHA256 of the body, auth token as key
        return {"x-viber-content-signature": _hmac(secret["accessToken"], raw).hex()}
    raise ValueError(platform)


async def post(app: Any, platform: str, body: dict[str, Any] | bytes, *,
               headers: dict[str, str] | None = None, sign_with: dict[str, Any] | None = None,
               base_url: str = "http://testserver", path: str | None = None,
               public_url: str | None = None, tamper: int | None = None,
               **sign_options: Any) -> httpx.Response:
    """POST ``body`` to the app's channel, signed (unless ``headers`` says otherwise);
    ``tamper``: the index of a byte changed after signing."""
    if isinstance(body, bytes):
        raw, content_type = body, "application/json"
    else:
        raw, content_type = encode(platform, body)
    path = path or f"/webhooks/{platform}"
    url = (public_url or base_url) + path
    sent = {"content-type": content_type,
            **sign(platform, raw, secrets=sign_with, url=url, **sign_options), **(headers or {})}
    if tamper is not None:
        raw = raw[:tamper] + bytes([raw[tamper] ^ 1]) + raw[tamper + 1:]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=base_url) as client:
        return await client.post(path, content=raw, headers=sent)

