"""``bot.serve()``: the bot's webhook app, served by uvicorn in the background."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from ..errors import ServeError, missing_extra
from .background import BackgroundLoop
from .redaction import hide_telegram_tokens

GRACEFUL_SHUTDOWN = 5  # seconds open requests get to finish when the server stops


class Serving:
    """A running server: ``url`` (where it listens), ``urls`` (each channel's webhook URL), ``stop()``."""

    def __init__(self, url: str, urls: Mapping[str, str], sock: socket.socket,
                 background: BackgroundLoop) -> None:
        self.url = url
        self.urls = dict(urls)
        self._socket = sock
        self._background = background

    @property
    def running(self) -> bool:
        return self._background.running

    def stop(self) -> None:
        """Stop serving and free the port; stopping again does nothing."""
        self._background.stop()
        self._socket.close()

    def __repr__(self) -> str:
        state = "serving" if self.running else "stopped"
        return f"<Serving {self.url} ({state}): {', '.join(self.urls) or 'no channels'}>"


def serve(bot: Any, port: int = 5000, host: str = "127.0.0.1",
          public_url: str | None = None) -> Serving:
    """Serve ``bot.webhook_app(public_url)`` on ``host:port`` in a background thread.

    ``port=0`` takes a free port. ``public_url`` is where the platform reaches the server
    (a tunnel, a proxy): the channels' URLs are printed under it, and Twilio's signature is
    checked over it.
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise missing_extra("uvicorn", "channels") from exc

    app = bot.webhook_app(public_url)
    hide_telegram_tokens()  # the telegram channel's sendMessage calls
    sock = _listen(host, port)
    bound_port = sock.getsockname()[1]
    url = f"http://{_url_host(host)}:{bound_port}"
    config = uvicorn.Config(
        app, lifespan="off", access_log=False, server_header=False, log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    server = uvicorn.Server(config)
    background = BackgroundLoop(f"bottender-nb serve {url}",
                                lambda: server.serve(sockets=[sock]),
                                lambda: setattr(server, "should_exit", True))
    background.start()
    base = (public_url or url).rstrip("/")
    urls = {name: base + channel.path for name, channel in getattr(bot, "channels", {}).items()}
    return Serving(url, urls, sock, background)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a port in use is a one-line ServeError."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
        raise ServeError(f"port must be an int from 0 to 65535, not {port!r}; e.g. port=5000.")
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"Cannot serve on host {host!r} ({exc.strerror}); "
                         "give an address of this machine, e.g. 127.0.0.1 or 0.0.0.0.") from None
    family, kind, proto, _name, address = info[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"Cannot serve on {host}:{port}: {exc.strerror}; stop what serves "
                         "there (%serve --stop) or pick another port, e.g. --port 5001.") from None
    return sock


def _url_host(host: str) -> str:
    """The host part of a URL to reach ``host`` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
