"""One HTTP call to a platform without an SDK kept for Python (Messenger, Telegram, Viber).

A client per call: a channel's replies may be sent from the notebook's loop, a server
thread's loop or a test's, and an httpx client's pool belongs to the loop that opened it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import missing_extra

if TYPE_CHECKING:
    import httpx

    from .base import Channel

TIMEOUT = 10.0


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise missing_extra("httpx", "channels") from exc
    return httpx


async def post(
    channel: Channel, url: str, *, transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = TIMEOUT, **kwargs: Any,
) -> httpx.Response:
    """POST to the platform; a DeliveryError when it cannot be reached (secrets masked)."""
    httpx = _httpx()
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            return await client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise channel.refused("no answer", f"({type(exc).__name__}: {exc})") from None


def answer_of(response: httpx.Response) -> Any:
    """The response's JSON, else its text: what the platform said, for the error."""
    try:
        return response.json()
    except ValueError:
        return response.text
