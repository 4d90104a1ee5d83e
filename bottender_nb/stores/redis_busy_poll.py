"""Busy polling for replies that asyncio reads: keep the loop awake while one is due.

Why: a local Redis answers a store's script in tens of microseconds, but on a virtual machine
waking a process that went to sleep in ``epoll_wait`` costs more than that (measured on a
shared 2-core VM, loopback PING: ~6k round trips/s through an asyncio protocol that sleeps,
~11k/s when the loop keeps polling). While a reply is due, this keeps one callback in the
loop's ready queue, so the loop polls its selector with timeout 0 instead of sleeping.

Used where the reply comes through asyncio's own reading: redis-py's connection (the lanes'
fallback) and the benchmark's floor. The lean connection (:mod:`.redis_socket`) polls its
socket from the waiting task instead, which is faster still.

What it costs: CPU, and only while this process would otherwise sleep -- other tasks and
callbacks keep running between polls. It stops as soon as nothing is in flight, and in any
case ``seconds`` after the last request began, after which the loop sleeps as usual (a
remote Redis, a slow script). It is one chained callback, not a task: nothing to leak.
"""

from __future__ import annotations

import asyncio


class BusyPoll:
    """Counts round trips in flight and keeps the loop polling while there are any.

    :param seconds: how long after a request began the loop may poll for its reply;
        0 turns busy polling off.
    """

    __slots__ = ("seconds", "_in_flight", "_until", "_loop")

    def __init__(self, seconds: float) -> None:
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError(
                f"busy_poll must be seconds >= 0 (0 turns it off), not {seconds!r}."
            )
        self.seconds = float(seconds)
        self._in_flight = 0
        self._until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None  # set while a poll is scheduled

    @property
    def polling(self) -> bool:
        """True while a poll callback is scheduled (tests check that it stops)."""
        return self._loop is not None

    def begin(self) -> None:
        """A request was sent: poll for its reply (pair with :meth:`end`)."""
        self._in_flight += 1
        if not self.seconds:
            return
        loop = asyncio.get_running_loop()
        self._until = loop.time() + self.seconds
        if self._loop is not loop:
            self._loop = loop
            loop.call_soon(self._poll, loop)

    def end(self) -> None:
        """The reply came (or the request failed)."""
        self._in_flight -= 1

    def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._in_flight > 0 and loop.time() < self._until:
            loop.call_soon(self._poll, loop)
        elif self._loop is loop:
            self._loop = None
