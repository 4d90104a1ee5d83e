"""Work a widget callback starts: on the kernel's loop when one runs, never blocking it.

A click or an Enter in the pane arrives in the kernel while its event loop runs, so the work
(a message to the bot, a rewind) becomes a task on that loop and the kernel stays free to take
the next message. Called with no loop running (a script, a plain test, ``pane.send``), the work
runs to its end with :func:`~bottender_nb.session.sync.run_sync`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from ..session.sync import run_sync


class KernelTasks:
    """Starts coroutines on the running loop and keeps each task referenced until it ends
    (asyncio keeps only a weak reference: an unreferenced task may vanish mid-way)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """The task running ``coroutine`` on the running loop; None when there is no running
        loop, after running it to its end here."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            run_sync(coroutine)
            return None
        task = loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
