"""A loopback stand-in of Telegram's Bot API: ``getUpdates`` (long polling) and ``sendMessage``.

A real HTTP server on 127.0.0.1 in a thread, behaving as Telegram documents it: ``getUpdates``
returns the queued updates whose ``update_id`` >= ``offset``, and calling it with an
``offset`` confirms (drops) every update before it; with no update it waits up to ``timeout``
seconds. ``webhook_set`` makes it answer 409 as Telegram does while a webhook is active.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "123456:TEST-token-not-real"


class TelegramStandIn:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.offsets: list[int | None] = []  # the offset of each getUpdates, in order
        self.sent: list[dict[str, Any]] = []  # each sendMessage's JSON body
        self.webhook_set = False
        self.changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> TelegramStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self.changed:
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def add(self, update: dict[str, Any]) -> None:
        with self.changed:
            self.updates.append(update)
            self.changed.notify_all()

    def forget_confirmations(self, updates: list[dict[str, Any]]) -> None:
        """As if the poller died before confirming ``updates``: Telegram sends them again."""
        with self.changed:
            self.updates[:0] = updates
            self.changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, timeout), "the stand-in waited in vain"

    def get_updates(self, offset: int | None, timeout: int) -> tuple[int, dict[str, Any]]:
        with self.changed:
            self.offsets.append(offset)
            self.changed.notify_all()
            if self.webhook_set:
                return 409, {"ok": False, "error_code": 409, "description": "Conflict: can't use "
                             "getUpdates method while webhook is active; use deleteWebhook to "
                             "delete the webhook first"}
            if offset is not None:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            self.changed.wait_for(lambda: self.updates, timeout)
            return 200, {"ok": True, "result": list(self.updates)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                if url.path != f"/bot{standin.token}/getUpdates":
                    return self._answer(404, {"ok": False, "error_code": 404,
                                              "description": "Not Found"})
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                offset = int(query["offset"]) if "offset" in query else None
                self._answer(*standin.get_updates(offset, min(int(query.get("timeout", 0)), 5)))

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != f"/bot{standin.token}/sendMessage":
                    return self._answer(404, {"ok": False, "error_code": 404})
                with standin.changed:
                    standin.sent.append(body)
                    standin.changed.notify_all()
                self._answer(200, {"ok": True, "result": {"message_id": len(standin.sent)}})

        return Handler


def message(update_id: int, text: str, user: int = 427770117) -> dict[str, Any]:
    """A private text message update, as Telegram sends it."""
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1700000000 + update_id, "text": text,
        "from": {"id": user, "is_bot": False, "first_name": "Ada"},
        "chat": {"id": user, "type": "private", "first_name": "Ada"},
    }}
