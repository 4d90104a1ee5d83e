"""``%serve`` and ``%poll``: the notebook's bot answers real users while the notebook runs.

The server and the poller run in background threads (why: :mod:`bottender_nb.serving`), so
cells keep running, Run All finishes, and real users' turns show in open chat panes and
``%turns`` as they arrive. Each magic keeps at most one running handle; running it again
replaces it.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .notebook_bot import NotebookBot
from .usage_errors import UsageErrors, wants_help

NAMES = ("serve", "poll")


@magics_class
class ServeMagics(Magics):
    """Serve the bot's webhooks, or long-poll Telegram, in the background."""

    def __init__(self, shell: Any, kit: NotebookBot) -> None:
        super().__init__(shell)
        self.kit = kit
        self.serving: Any = None
        self.polling: Any = None

    @magic_arguments()
    @argument("--port", type=int, default=5000, help="the port to listen on (default: 5000)")
    @argument("--host", default="127.0.0.1",
              help="the address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    @argument("--public-url", default=None,
              help="where the platforms reach this server (a tunnel's https URL, a proxy)")
    @argument("--stop", action="store_true", help="stop serving")
    @line_magic
    def serve(self, line: str) -> None:
        """Serve the bot's channels' webhooks in the background; prints each channel's URL."""
        if wants_help(self.serve, line):
            return
        args = parse_argstring(self.serve, line)
        if args.stop:
            print(self._stop_serving() or "Not serving (start with %serve).")
            return
        with UsageErrors(self.shell):
            bot = self.kit.require_bot()
            _require_channels(bot)
            self._stop_serving()
            self.serving = bot.serve(port=args.port, host=args.host, public_url=args.public_url)
        print(f"Serving on {self.serving.url} (stop with %serve --stop); webhook URLs:")
        for name, url in self.serving.urls.items():
            print(f"  {name}: {url}")

    @magic_arguments()
    @argument("platform", nargs="?", default=None, choices=("telegram",),
              help="the platform to poll: telegram")
    @argument("--timeout", type=int, default=30, help="seconds of one long poll (default: 30)")
    @argument("--stop", action="store_true", help="stop polling")
    @line_magic
    def poll(self, line: str) -> None:
        """Long-poll Telegram for the bot's updates in the background (no public URL needed)."""
        if wants_help(self.poll, line):
            return
        args = parse_argstring(self.poll, line)
        if args.stop:
            print(self._stop_polling() or "Not polling (start with %poll telegram).")
            return
        if args.platform is None:
            raise UsageError("Name the platform to poll: %poll telegram (or %poll --stop).")
        with UsageErrors(self.shell):
            bot = self.kit.require_bot()
            self._stop_polling()
            self.polling = bot.poll_telegram(timeout=args.timeout)
        print("Polling Telegram for updates (stop with %poll --stop).")

    def stop_all(self) -> None:
        """Stop the server and the poller (``%unload_ext``)."""
        self._stop_serving()
        self._stop_polling()

    def _stop_serving(self) -> str | None:
        serving, self.serving = self.serving, None
        if serving is None:
            return None
        serving.stop()
        return f"Stopped serving on {serving.url}."

    def _stop_polling(self) -> str | None:
        polling, self.polling = self.polling, None
        if polling is None:
            return None
        polling.stop()
        return "Stopped polling Telegram."


def _require_channels(bot: Any) -> None:
    if not getattr(bot, "channels", None):
        raise UsageError(
            "The bot has no channels to serve; add them to %%bottender_config, e.g. "
            '{"channels": {"line": {"channelSecret": "...", "accessToken": "..."}}}.'
        )
