"""Serving the bot to real users: ``bot.serve()`` (webhooks) and ``bot.poll_telegram()``.

Where the server and the bot's events run, and why:

- **A daemon thread with an asyncio loop of its own**, one per server or poller
  (:mod:`.background`), and the webhook events (the action, the store, the replies) run on that
  loop. Not on the kernel's loop: that loop is blocked for as long as a synchronous cell runs (a
  computation, ``time.sleep``, a cell that posts to this very server with ``httpx.post``, any
  cell of a Run All queue), so a real user would wait, and a cell calling the server would wait
  for itself; and ipykernel 7 may not run the loop's background tasks between cells (ipykernel
  #1510; with 7.4 an idle kernel did run them). Not in a process of its own either: the bot, its
  action (``%%action`` swaps it in place) and the open chat panes live in the kernel.
- **Ctrl-C / Interrupt still reach the kernel.** uvicorn installs its SIGINT/SIGTERM handlers
  only when it runs in the main thread (``Server.capture_signals``), and ``asyncio.run`` its
  SIGINT handler likewise, so in this thread neither touches the kernel's signals.
- **The listening socket is bound in the caller**, before the thread starts: a port in use is a
  one-line error in the cell, ``port=0`` picks a free one, and connections made at once wait in
  the socket's backlog until uvicorn accepts them.
- **Listeners run in the serving thread.** ``bot.on_turn`` listeners (chat panes, ``%turns``'
  last session) are called from it; ipykernel sends widget updates from any thread.
- **A store's client belongs to one loop**: a Redis client made on the kernel's loop cannot be
  used from this one; the store keeps one client per loop.
- **Secrets stay out of logs**: uvicorn's access log is off (a channel's ``path`` may hold a
  secret, as Telegram webhook paths often do), and the Telegram token in the API path of the
  poller's calls is never logged or put in an error.

Nothing here is imported by the core: ``Bot.serve`` and ``Bot.poll_telegram`` import it lazily.
"""

from __future__ import annotations

from .polling import Polling, poll_telegram
from .server import Serving, serve

__all__ = ["Polling", "Serving", "poll_telegram", "serve"]
