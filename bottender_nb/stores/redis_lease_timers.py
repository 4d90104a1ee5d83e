"""Keeping and releasing the Redis store's leases: the two timers behind :mod:`.redis_leases`.

* **The sweep.** After its event a lease is kept while the loop goes round once more; a lease
  left idle for a whole tick, without the session's next event in this process, is released.
  One ``call_soon`` per tick sweeps every idle lease, not a timer per event, so a stopped loop
  (console mode between lines) holds nobody up for longer than the lease's ``0.25`` s.
* **The renewal timer.** During an event the lock expires ``lock_timeout`` seconds after it
  was last renewed, so a crashed process cannot wedge a session; one timer for all running
  events renews a lock before that, so a slow action keeps its lock. A renewal that finds the
  lock gone marks the lease lost, and its write is refused.

A mixin of :class:`.redis_leases.Leases`, not a separate object: the per-event path
(``_done``, and ``_reuse`` starting the timer) stays one attribute lookup away.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .redis_keys import RELEASE, RENEW
from .redis_resp import Arguments

if TYPE_CHECKING:
    from .redis_leases import Lease, ScriptCall


class LeaseTimers:
    """The sweep that releases idle leases and the timer that renews running events' locks."""

    lock_timeout: float  # set by Leases, as are these two
    _call: ScriptCall
    _leases: dict[str, Lease]

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle: list[Lease] = []
        self._sweeper: asyncio.Handle | None = None
        self._sweeps = 0
        self._guardian: asyncio.TimerHandle | None = None

    async def _stop_timers(self) -> None:
        """Cancel both timers, and wait for the releases and renewals under way."""
        for timer in (self._sweeper, self._guardian):
            if timer is not None:
                timer.cancel()
        self._sweeper = self._guardian = None
        while self._tasks:  # releases and renewals under way
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- keeping a lease a loop tick, then releasing it ----------------------------------

    def _done(self, lease: Lease) -> None:
        """The event is over: keep the lease a loop tick, for the session's next event here."""
        lease.in_use = False
        if lease.lost:
            self._drop(lease)
            return
        lease.idle_since = self._sweeps
        self._idle.append(lease)
        if self._sweeper is None:  # call_soon: next tick, like call_later(0) but no timer heap
            self._sweeper = asyncio.get_running_loop().call_soon(self._sweep)

    def _sweep(self) -> None:
        """Release the leases left idle for a whole tick (one timer per tick, not per event)."""
        self._sweeper, self._sweeps = None, self._sweeps + 1
        idle, self._idle = self._idle, []
        released = []
        for lease in idle:
            if lease.in_use or self._leases.get(lease.session_id) is not lease:
                continue
            if lease.idle_since == self._sweeps - 1:
                self._idle.append(lease)  # idle since the last sweep only: one more round
            else:
                del self._leases[lease.session_id]
                released.append(lease)
        if released:
            self._background(self._release(released))
        if self._idle:
            self._sweeper = asyncio.get_running_loop().call_soon(self._sweep)

    async def _release(self, leases: list[Lease]) -> None:
        await asyncio.gather(*(
            self._call(RELEASE, Arguments(*lease.keys.values[1:]), lease.token, None)
            for lease in leases
        ))

    def _drop(self, lease: Lease) -> None:
        lease.lost = True
        if self._leases.get(lease.session_id) is lease:
            del self._leases[lease.session_id]

    # -- renewing it while its event runs -------------------------------------------------

    def _guard(self) -> None:
        """Make sure the locks of running events are renewed before they can expire."""
        if self._guardian is None:
            period = min(0.05, self.lock_timeout / 4)
            self._guardian = asyncio.get_running_loop().call_later(period, self._renew_due)

    def _renew_due(self) -> None:
        # One timer for all running events: renew a lock once less than half its life is left.
        self._guardian = None
        now, running, due = time.monotonic(), False, []
        for lease in self._leases.values():
            if lease.in_use and not lease.lost:
                running = True
                if lease.valid_until - now < lease.ttl / 2 and not lease.renewing:
                    lease.renewing = True
                    due.append(lease)
        if due:
            self._background(asyncio.gather(*map(self._renew, due)))
        if running:
            self._guard()

    async def _renew(self, lease: Lease) -> None:
        sent = time.monotonic()
        try:
            if await self._call(RENEW, Arguments(lease.keys.values[1]), lease.token, None):
                lease.valid_until = max(lease.valid_until, sent + self.lock_timeout)
                lease.ttl = self.lock_timeout
            else:
                lease.lost = True  # its write will be refused
        finally:
            lease.renewing = False

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(_finished(self._tasks))


def _finished(tasks: set[asyncio.Task[Any]]) -> Any:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed release or renewal only lets the lock expire

    return done
