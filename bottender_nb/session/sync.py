"""The one place where synchronous code waits for a coroutine, inside Jupyter or not.

``bot.say``, the magics and ``ChatPane.send`` are synchronous, but bots and stores are async.
Inside a kernel the coroutine runs on the kernel's own event loop, re-entered with
nest-asyncio2 (ipykernel 7 depends on it too), and not on a loop of its own in a worker thread: a cell's top-level ``await bot.handle_request(...)``,
the chat pane's tasks and ``%say`` then share one loop, so what a store binds to its loop
(redis-py's connections, asyncio locks, a lease's timer) works from all three.

Why re-entering the loop cannot disturb the kernel's handling of queued cells (*Run All*
sends every execute request at once): ipykernel (7 and later) handles each shell request
(execute, comm, ...) in a task that runs in one shared ``contextvars.Context``, which is
entered all the while a cell runs. nest-asyncio2's nested pass defers every callback whose
Context is already entered and puts them back at the head of the loop's queue, in their order,
when the nested run returns. So a nested run steps the bot's coroutine and what runs outside
the kernel's request handling (a store's timers, socket I/O, the user's own tasks), never a
queued request; those wait, then run in order behind the kernel's execution lock (a nested run
that ran them would ask Python to enter the Context twice, which it refuses, and the request's
cell would stay ``[*]`` for good). ipykernel 6 serves queued
requests one at a time from the task that is running the cell, which a nested pass cannot step.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..stores.kept import any_kept, let_go_all

T = TypeVar("T")

_local = threading.local()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion and return its result.

    Inside a running loop (a Jupyter kernel), nest-asyncio2 runs it re-entrantly on that loop
    (see the module docstring); elsewhere one loop per thread is kept, so clients bound to a
    loop (redis) stay usable across calls.

    Either way, a store's locks kept for a session's next event (:mod:`..stores.kept`) are
    let go before this returns, also when it raised: the caller may block next, and other
    processes would wait for it.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        loop = getattr(_local, "loop", None)
        if loop is None or loop.is_closed():
            loop = _local.loop = asyncio.new_event_loop()
    else:
        import nest_asyncio2

        nest_asyncio2.apply(loop)
    return run_until_complete(loop, coroutine)


def run_until_complete(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """``loop.run_until_complete(coroutine)``, then let go of the locks stores keep for a next
    event: the caller may block next (the console waits for a line), with the loop stopped."""
    try:
        return loop.run_until_complete(coroutine)
    finally:
        if any_kept():
            loop.run_until_complete(let_go_all())
