"""Auto-pipelining of the store's Lua script calls, as ioredis does it.

Why: through redis-py each command costs a round trip of its own, which caps the events/s a
store can run. Here each lane (a connection of its own, or the cluster client: see
:mod:`.redis_lanes`) has at most one batch of script calls in flight; the calls made
meanwhile form the next batch, one ``EVALSHA`` per script for all their sessions, so many
conversations share each round trip, and an idle store still sends a lone call at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from ..errors import StoreError
from .redis_keys import Script
from .redis_resp import Arguments


@dataclass(slots=True)
class Call:
    """One session's script call: its keys, its arguments and, for a write, the value."""

    script: Script
    keys: Arguments
    args: Arguments
    value: bytes | None = None
    future: asyncio.Future[Any] | None = None  # None for a call its caller sends itself


class Pipeline:
    """Auto-pipelining: a batch of script calls in flight per lane; calls made meanwhile wait.

    A lone caller sends straight from its own task (no hop through the loop). While other
    events are in progress (``in_progress()``, the store's count), a call joins the batch
    that a free lane sends on the loop's next pass: a local Redis often answers within the
    send itself, so a call sent at once would be done before the others made theirs, and
    every call would cost a round trip of its own. The batch goes sooner once it holds a
    lane's share of the events in progress (half, with two lanes): else the replies of one
    batch wake every conversation at once, their next calls all join one batch again, and
    Redis and this process take turns instead of working at the same time. A lane that
    comes back takes every waiting call, one ``EVALSHA`` per script.
    """

    def __init__(self, lanes: list[Any], in_progress: Callable[[], int] = lambda: 0) -> None:
        self._lanes = lanes
        self._free = list(lanes)
        self._queue: list[Call] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_progress = in_progress
        self._flush: asyncio.Handle | None = None

    async def call(
        self, script: Script, keys: Arguments, args: Arguments, value: bytes | None = None
    ) -> Any:
        """Run ``script`` for one session; its reply, or the StoreError it got."""
        in_progress = self._in_progress()
        if not self._free or self._queue or in_progress > 1:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            queue = self._queue
            queue.append(Call(script, keys, args, value, future))
            if self._free:
                if len(queue) * len(self._lanes) >= in_progress:
                    self._send_queue()  # this lane's share of the crowd: Redis starts on it now
                elif self._flush is None:
                    self._flush = loop.call_soon(self._send_queue)
            return await future
        lane = self._free.pop()
        try:
            [outcome] = await lane.run([[Call(script, keys, args, value)]])
        finally:
            self._next(lane)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome[0]

    def _send_queue(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        self._flush = None
        if self._free and self._queue:
            self._next(self._free.pop())

    def _next(self, lane: Any) -> None:
        if not self._queue:
            self._free.append(lane)
            return
        calls, self._queue = self._queue, []
        task = asyncio.ensure_future(self._run(lane, calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, lane: Any, calls: list[Call]) -> None:
        try:
            groups = lane.group(calls)
            outcomes = await lane.run(groups)
            for group, outcome in zip(groups, outcomes):
                if isinstance(outcome, BaseException):
                    for call in group:
                        _settle(call.future, outcome)
                    continue
                for call, reply in zip(group, outcome):
                    future = call.future
                    if future is not None and not future.done():  # its caller may be gone
                        future.set_result(reply)
        except BaseException as exc:  # nobody may wait forever
            for call in calls:
                _settle(call.future, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._next(lane)

    async def close(self) -> None:
        if self._flush is not None:  # calls waiting for the next pass: send them now
            self._flush.cancel()
            self._send_queue()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for lane in self._lanes:
            await lane.close()


def _settle(future: asyncio.Future[Any] | None, outcome: Any) -> None:
    if future is None or future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(_own_copy(outcome))
    else:
        future.set_result(outcome)


def _own_copy(exc: BaseException) -> BaseException:
    """A StoreError of its own for each waiting caller, so their tracebacks do not pile up."""
    if type(exc) is not StoreError:
        return exc
    copy = StoreError(*exc.args)
    copy.__cause__ = exc.__cause__
    return copy
