"""The one place where synchronous code waits for a coroutine, inside Jupyter or not."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion and return its result.

    Inside a running loop (a Jupyter kernel), nest-asyncio lets the loop run it re-entrantly;
    elsewhere one loop per thread is kept, so clients bound to a loop (redis) stay usable
    across calls.

    Either way, callbacks the coroutine left for the loop's next pass run before this
    returns (a store unlocking a session it kept for back-to-back events): a plain
    ``run_until_complete`` runs them on its last pass; a nested one stops first, so it is
    given that pass here, not only once the cell has finished.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        loop = getattr(_local, "loop", None)
        if loop is None or loop.is_closed():
            loop = _local.loop = asyncio.new_event_loop()
        return loop.run_until_complete(coroutine)
    import nest_asyncio

    nest_asyncio.apply(loop)
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(asyncio.sleep(0))
