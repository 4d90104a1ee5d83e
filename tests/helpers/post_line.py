"""Post LINE webhooks to a served bot from a process of its own, as LINE's servers would.

``python post_line.py URL CHANNEL_SECRET USER_ID TEXT [--forged]``: prints the HTTP status.
A forged request is signed with another secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time
import uuid

import httpx


def line_body(user_id: str, text: str) -> bytes:
    event = {
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "replyToken": uuid.uuid4().hex, "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user_id},
        "message": {"id": str(uuid.uuid4().int)[:18], "type": "text", "text": text},
    }
    return json.dumps({"destination": "Uffffffff0123456789abcdef01234567",
                       "events": [event]}).encode()


def line_signature(secret: str, body: bytes) -> str:
    """LINE's X-Line-Signature: base64 of the body's HMAC-SHA256 keyed with the channel secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def post(url: str, secret: str, user_id: str, text: str, *, forged: bool = False) -> int:
    body = line_body(user_id, text)
    signature = line_signature("not-" + secret if forged else secret, body)
    response = httpx.post(url, content=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Line-Signature": signature})
    return response.status_code


if __name__ == "__main__":
    url, secret, user_id, text, *flags = sys.argv[1:]
    print(post(url, secret, user_id, text, forged="--forged" in flags))
