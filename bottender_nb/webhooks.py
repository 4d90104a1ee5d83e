"""``bot.webhook_app()``: an ASGI app (Starlette) serving each channel's webhook at its path.

Each request: its signature checked (401, never handled, when it fails), a platform
handshake answered, the body parsed as the platform posts it (400 with the one-line error
when it is not of the platform's shape), then ``bot.handle_request(body, platform,
delivery=channel)``: the same sessions, history and live panes as a simulated message, each
reply sent through the platform, a redelivered event skipped. 200 once handled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .channels import Channel, WebhookRequest
from .channels.base import Answer
from .errors import BodyError, DeliveryError, missing_extra

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

logger = logging.getLogger(__name__)


class Bot(Protocol):
    """What the app needs of a :class:`~bottender_nb.Bot` (the runner sits below this module)."""

    channels: Mapping[str, Channel]

    async def handle_request(self, body: Mapping[str, Any], platform: str = ..., *,
                             delivery: Any = None) -> Any: ...


def webhook_app(bot: Bot, public_url: str | None = None) -> Starlette:
    """The app; ``public_url`` is what the platforms call (Twilio signs that URL)."""
    try:
        from starlette.applications import Starlette
        from starlette.routing import Route
    except ImportError as exc:
        raise missing_extra("starlette", "channels") from exc
    routes = []
    for channel in bot.channels.values():
        if hasattr(channel, "public_url"):
            channel.public_url = public_url
        routes.append(Route(channel.path, _endpoint(bot, channel), methods=["GET", "POST"]))
    return Starlette(routes=routes)


def _endpoint(bot: Bot, channel: Channel) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        webhook = WebhookRequest(
            method=request.method, url=str(request.url), body=await request.body(),
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
        )
        return _response(await handle(bot, channel, webhook))

    return endpoint


async def handle(bot: Bot, channel: Channel, request: WebhookRequest) -> Answer:
    """What the channel answers to one request."""
    if request.method == "GET":
        return channel.handshake(request)
    if not channel.verify(request):
        logger.warning("%s webhook refused: its signature does not match", channel.name)
        return Answer(401, f"{channel.name}: the request's signature does not match; it was "
                           "not handled. Check the channel's secret.")
    try:
        body = channel.parse(request)
        answer = channel.answer(body)
        if answer is not None:
            return answer
        await bot.handle_request(body, channel.name, delivery=channel)
    except BodyError as exc:
        return Answer(400, channel.hide(str(exc)))
    except DeliveryError as exc:  # not handled: the platform's retry may get through
        logger.error("%s", exc)
        return Answer(502, str(exc))
    return Answer(200, "OK")


def _response(answer: Answer) -> Any:
    from starlette.responses import JSONResponse, PlainTextResponse

    if answer.json is not None:
        return JSONResponse(answer.json, status_code=answer.status)
    return PlainTextResponse(answer.text, status_code=answer.status)
