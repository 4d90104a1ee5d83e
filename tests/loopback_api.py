"""A loopback stand-in of a platform's reply API: answers every POST 200 and records it.

LINE's reply (``/v2/bot/message/reply``) is answered as LINE documents it (``sentMessages``,
which line-bot-sdk reads); any other path with ``{}``.

A real HTTP server on 127.0.0.1 in a thread, so a reply sent from a kernel or a server thread
never leaves the machine; each request is kept as ``(path, headers, JSON body)``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackApi:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackApi:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.requests.append((self.path, dict(self.headers), json.loads(raw or b"null")))
                answer = b"{}"
                if self.path == "/v2/bot/message/reply":
                    answer = json.dumps({"sentMessages": [
                        {"id": str(461230966842064897 + len(api.requests)), "quoteToken": "q"}
                    ]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler
