"""``bot.poll_telegram()``: Telegram's long polling, for a bot with no public URL.

Each ``getUpdates`` asks for the updates after the last one handled (``offset`` = its
``update_id`` + 1), which also tells Telegram that those are done, so none is handled twice.
Updates handled but not yet confirmed when the poller stops (or the kernel dies) are sent again
by Telegram to the next poller; the runner skips them, as it skips any platform's redelivery,
by their ``update_id`` in the session's kept turns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Mapping
from typing import Any

from ..errors import ServeError
from .background import BackgroundLoop
from .redaction import hide_telegram_tokens

LOG = logging.getLogger("bottender_nb.polling")
RETRY_DELAY = 5.0  # seconds between attempts when getUpdates cannot be reached


class Polling:
    """A running poller: ``offset`` (the next update wanted), ``error`` (why it ended), ``stop()``."""

    def __init__(self, bot: Any, channel: Any, token: str, api_base: str, timeout: int) -> None:
        self.bot = bot
        self.channel = channel
        self.timeout = timeout
        self.offset: int | None = None
        self._token = token
        self._api_base = api_base.rstrip("/")
        self._url = f"{self._api_base}/bot{token}/getUpdates"  # holds the token: never logged
        self._stopping: asyncio.Event | None = None
        self._first: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._background = BackgroundLoop("bottender-nb poll telegram", self._run, self._stop_soon)

    @property
    def running(self) -> bool:
        return self._background.running

    @property
    def error(self) -> BaseException | None:
        """Why polling ended by itself (e.g. a webhook was set meanwhile); None while it runs."""
        return self._background.error

    def stop(self) -> None:
        """Stop after the update being handled, if any; stopping again does nothing."""
        self._background.stop()

    def __repr__(self) -> str:
        state = "polling" if self.running else "stopped"
        return f"<Polling telegram ({state}), offset {self.offset}>"

    def _start(self) -> None:
        """Start, and wait for the first (short) poll: a 409 or a bad token fails here."""
        self._background.start()
        try:
            self._first.result()  # bounded by the HTTP client's timeouts
        except BaseException:
            self.stop()
            raise

    def _stop_soon(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _run(self) -> None:
        import httpx

        self._stopping = asyncio.Event()
        timeout = httpx.Timeout(self.timeout + 10.0, connect=10.0)
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                first = await self._first_updates(client)
            except BaseException as error:
                self._first.set_exception(error)
                raise
            self._first.set_result(None)
            await self._handle(first)
            while not self._stopping.is_set():
                updates = await self._next_updates(client)
                await self._handle(updates)

    async def _next_updates(self, client: Any) -> list[Mapping[str, Any]]:
        """The next batch; [] when asked to stop meanwhile (the long poll is dropped)."""
        assert self._stopping is not None
        request = asyncio.ensure_future(self._get_updates_retrying(client))
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({request, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not request.done():
            request.cancel()
            return []
        return request.result()

    async def _get_updates_retrying(self, client: Any) -> list[Mapping[str, Any]]:
        """``getUpdates``, waiting RETRY_DELAY s after a network failure (Telegram or wifi down)."""
        import httpx

        while True:
            try:
                return await self._get_updates(client, self.timeout)
            except httpx.TransportError as exc:
                LOG.warning("Telegram getUpdates failed (%s); retrying in %.0f s",
                            type(exc).__name__, RETRY_DELAY)
                await asyncio.sleep(RETRY_DELAY)

    async def _first_updates(self, client: Any) -> list[Mapping[str, Any]]:
        """A short poll, so a bad token, a set webhook or no network fail in the caller at once."""
        import httpx

        try:
            return await self._get_updates(client, 0)
        except httpx.TransportError as exc:
            raise ServeError(f"Cannot reach Telegram's API at {self._api_base} "
                             f"({type(exc).__name__}); check the network, or the telegram "
                             "channel's apiBase.") from None

    async def _get_updates(self, client: Any, timeout: int) -> list[Mapping[str, Any]]:
        params = {"timeout": timeout}
        if self.offset is not None:
            params["offset"] = self.offset
        response = await client.get(self._url, params=params)
        return _updates(response.status_code, _json(response))

    async def _handle(self, updates: list[Mapping[str, Any]]) -> None:
        """Each update in turn; the offset moves past it whether or not its action failed."""
        for update in updates:
            try:
                await self.bot.handle_request(update, "telegram", delivery=self.channel)
            except Exception as exc:  # noqa: BLE001 - one bad update must not stop the bot
                LOG.error("Telegram update %s failed: %s: %s", update.get("update_id"),
                          type(exc).__name__, _redact(str(exc), self._token))
            update_id = update.get("update_id")
            if isinstance(update_id, int):
                self.offset = max(self.offset or 0, update_id + 1)


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _updates(status: int, answer: Any) -> list[Mapping[str, Any]]:
    """The updates of a ``getUpdates`` answer, or the one-line error it means."""
    if status == 409:
        raise ServeError(
            "Telegram refuses getUpdates while a webhook is set (409 Conflict); delete the "
            "webhook first (deleteWebhook: https://api.telegram.org/bot<token>/deleteWebhook), "
            "or serve the webhook instead with %serve."
        )
    if status in (401, 404):
        raise ServeError(f"Telegram refuses the bot's token ({status}); check the telegram "
                         "channel's accessToken (from @BotFather).")
    ok = isinstance(answer, dict) and answer.get("ok") is True
    result = answer.get("result") if ok else None
    if status != 200 or not isinstance(result, list):
        described = answer.get("description") if isinstance(answer, dict) else None
        raise ServeError(f"Telegram answered getUpdates with {status}: "
                         f"{str(described or 'no description')[:200]}.")
    return [update for update in result if isinstance(update, dict)]


def _redact(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text


def poll_telegram(bot: Any, timeout: int = 30) -> Polling:
    """Long-poll Telegram for ``bot``'s telegram channel in the background; the running poller."""
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        raise ServeError(f"timeout must be the seconds of one long poll (an int >= 0), not "
                         f"{timeout!r}; e.g. timeout=30.")
    channel = (getattr(bot, "channels", None) or {}).get("telegram")
    if channel is None:
        raise ServeError("The bot has no telegram channel; configure one, e.g. "
                         "Bot(action, channels={'telegram': {'accessToken': '123:ABC'}}).")
    token, api_base = channel_settings(channel)
    hide_telegram_tokens()
    polling = Polling(bot, channel, token, api_base, timeout)
    polling._start()
    return polling


def channel_settings(channel: Any) -> tuple[str, str]:
    """The telegram channel's token and API base URL."""
    return channel.options["accessToken"], channel.api_base

