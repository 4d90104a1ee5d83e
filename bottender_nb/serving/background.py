"""One long-running coroutine on an asyncio loop of its own, in a daemon thread.

Why a thread and its own loop: see :mod:`bottender_nb.serving`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

STOP_TIMEOUT = 10.0  # seconds a stop waits for the coroutine to finish what it was doing


class BackgroundLoop:
    """Runs ``main()`` in a daemon thread on a new event loop until it returns or is stopped.

    ``stop()`` calls ``request_stop`` on that loop (thread-safely) and waits for ``main`` to
    end; a daemon thread never keeps the kernel or interpreter from exiting.
    """

    def __init__(self, name: str, main: Callable[[], Coroutine[Any, Any, None]],
                 request_stop: Callable[[], None]) -> None:
        self._main = main
        self._request_stop = request_stop
        self._started = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread; returns once its loop runs (so :meth:`stop` can reach it)."""
        self._thread.start()
        self._started.wait()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask ``main`` to stop and wait for the thread to end (at most ``timeout`` s)."""
        loop = self.loop
        if self._thread.is_alive() and loop is not None:
            try:
                loop.call_soon_threadsafe(self._request_stop)
            except RuntimeError:  # the loop closed meanwhile: main already ended
                pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        # asyncio.run installs no signal handler outside the main thread: SIGINT stays the kernel's.
        try:
            asyncio.run(self._guarded())
        finally:
            self._started.set()  # also when the loop could not start

    async def _guarded(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._started.set()
        try:
            await self._main()
        except BaseException as error:  # kept for the handle; the thread ends quietly
            self.error = error
