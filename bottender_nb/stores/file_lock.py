"""Per-session lock files shared by processes, awaited without blocking the event loop.

:class:`LockFiles` also keeps a session's lock as a **lease** between back-to-back events:
an event that ends hands its lock to the next loop pass instead of unlocking it, so the
session's next event in the same pass (a task sending events one after another) takes it
with no system call, and its store may trust what it wrote under that lease instead of
reading the file again. The next loop pass unlocks it, so any task that waits (for I/O,
for a timer, for the lock itself) lets it go.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from typing import Any

try:
    from filelock import lock_descriptor, unlock_descriptor
except ImportError as exc:  # pragma: no cover - depends on the installed filelock
    raise ImportError(
        "FileSessionStore needs filelock>=3.30; upgrade it with: pip install -U filelock"
    ) from exc

_FIRST_BACKOFF, _MAX_BACKOFF = 0.0005, 0.02  # seconds between tries for a busy lock


class Lease:
    """A session lock this process holds: during an event, and until the next loop pass.

    ``record`` is what the store wrote under this lease (None when it has to read the
    file): nobody else can have written the session while the lock has been held.
    """

    __slots__ = ("path", "fd", "in_use", "held", "record")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.in_use = True
        self.held = True
        self.record: Any = None


class LockFiles:
    """The lock files of one store: leases held, and descriptors kept open between events.

    Opening and closing the lock file on every event costs as much as reading the session, so
    idle descriptors stay open, at most ``keep`` of them. A held descriptor is never in the
    idle cache, so it can never be evicted (closing it would drop the lock). A forked child
    never uses its parent's descriptors or leases: they share the parent's lock.
    """

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self._idle: OrderedDict[str, int] = OrderedDict()
        self._leases: dict[str, Lease] = {}
        self._ended: list[Lease] = []  # leases whose event ended: unlocked on the next pass
        self._sweeper: asyncio.Handle | None = None
        self._pid = os.getpid()

    def lock(self, path: str) -> SessionLock:
        """An ``async with`` lock on ``path``, kept as a lease until the next loop pass."""
        return SessionLock(self, path)

    def lease(self, path: str) -> Lease | None:
        """The lease this process holds on ``path`` now, if any."""
        lease = self._leases.get(path)
        return lease if lease is not None and self._pid == os.getpid() else None

    async def acquire(self, path: str) -> Lease:
        """The lock on ``path``: the lease left by the previous event, or a fresh one."""
        self._forget_parent()
        lease = self._leases.get(path)
        if lease is not None and not lease.in_use:
            lease.in_use = True  # back-to-back: still locked, nothing to do
            return lease
        # Free, or in use by another task of this process: then this descriptor waits
        # for that task's lease to be unlocked, like another process would.
        fd = self._idle.pop(path, None)
        if fd is None:
            fd = _open_lock_file(path)
        await wait_for_lock(fd)
        lease = self._leases[path] = Lease(path, fd)
        return lease

    def end(self, lease: Lease) -> None:
        """The event is over: unlock on the next loop pass, unless another event reuses it."""
        lease.in_use = False
        if not lease.held:  # close() ran meanwhile
            return
        self._ended.append(lease)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_soon(self._sweep)

    def close(self) -> None:
        """Unlock every lease and close every descriptor kept open."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._ended = []
        if self._pid == os.getpid():
            for lease in list(self._leases.values()):
                self._release(lease)
        self._leases.clear()
        while self._idle:
            os.close(self._idle.popitem()[1])

    def _sweep(self) -> None:
        self._sweeper = None
        if self._pid != os.getpid():  # a forked child running a copy of the parent's loop
            self._forget_parent()
            return
        ended, self._ended = self._ended, []
        for lease in ended:
            if lease.held and not lease.in_use:  # else reused since, and queued again after
                self._release(lease)

    def _release(self, lease: Lease) -> None:
        lease.held, lease.record = False, None
        if self._leases.get(lease.path) is lease:
            del self._leases[lease.path]
        try:
            unlock_descriptor(lease.fd)
        except OSError:
            os.close(lease.fd)  # closing it drops the lock too
            return
        self._give_back(lease.path, lease.fd)

    def _give_back(self, path: str, fd: int) -> None:
        """Keep a released descriptor for the next event, closing the oldest past ``keep``."""
        if self._pid != os.getpid() or path in self._idle:
            os.close(fd)
            return
        self._idle[path] = fd
        while len(self._idle) > self.keep:
            os.close(self._idle.popitem(last=False)[1])

    def _forget_parent(self) -> None:
        if self._pid != os.getpid():  # a forked child: the parent's locks are not ours
            self._idle.clear()
            self._leases.clear()
            self._ended = []
            self._sweeper = None
            self._pid = os.getpid()


class SessionLock:
    """``async with files.lock(path)``: the session's lease for the length of one event."""

    __slots__ = ("_files", "_path", "_lease")

    def __init__(self, files: LockFiles, path: str) -> None:
        self._files = files
        self._path = path

    async def __aenter__(self) -> None:
        self._lease = await self._files.acquire(self._path)

    async def __aexit__(self, *exc_info: object) -> None:
        self._files.end(self._lease)


class FileLock:
    """``async with``: an OS file lock (flock / LockFileEx via filelock) that never blocks the loop.

    A busy lock is retried with a growing ``asyncio.sleep``; cancelling the wait leaves
    nothing held. The OS drops the lock of a killed process, so a crash never leaves it stuck.
    Lock files stay after release: unlinking one would let two waiters lock different inodes.
    """

    __slots__ = ("_path", "_fd")

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd = -1

    async def __aenter__(self) -> None:
        fd = _open_lock_file(self._path)
        await wait_for_lock(fd)
        self._fd = fd

    async def __aexit__(self, *exc_info: object) -> None:
        fd, self._fd = self._fd, -1
        try:
            unlock_descriptor(fd)
        finally:
            os.close(fd)


async def wait_for_lock(fd: int) -> None:
    """Lock ``fd``, retrying a busy lock with a growing sleep; ``fd`` is closed if that fails."""
    delay = _FIRST_BACKOFF
    try:
        while not lock_descriptor(fd, blocking=False):
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
    except BaseException:
        os.close(fd)
        raise


def _open_lock_file(path: str) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags, 0o666)
