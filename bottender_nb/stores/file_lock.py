"""A per-session lock file shared by processes, awaited without blocking the event loop."""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict

try:
    from filelock import lock_descriptor, unlock_descriptor
except ImportError as exc:  # pragma: no cover - depends on the installed filelock
    raise ImportError(
        "FileSessionStore needs filelock>=3.30; upgrade it with: pip install -U filelock"
    ) from exc

_FIRST_BACKOFF, _MAX_BACKOFF = 0.0005, 0.02  # seconds between tries for a busy lock


class LockFiles:
    """The lock-file descriptors of one store, kept open between events of a session.

    Opening and closing the lock file on every event costs as much as reading the session, so
    idle descriptors stay open, at most ``keep`` of them. A held descriptor is taken out of the
    cache, so it can never be evicted (closing it would drop the lock); and a forked child
    never reuses its parent's descriptors, which share the parent's lock.
    """

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self._idle: OrderedDict[str, int] = OrderedDict()
        self._pid = os.getpid()

    def lock(self, path: str) -> FileLock:
        """An ``async with`` lock on ``path`` that reuses an idle descriptor when it can."""
        return FileLock(path, self)

    def take(self, path: str) -> int:
        """An open descriptor of ``path`` for one holder."""
        if self._pid != os.getpid():
            self._idle.clear()  # inherited descriptors share the parent's lock: never use them
            self._pid = os.getpid()
        fd = self._idle.pop(path, None)
        return _open_lock_file(path) if fd is None else fd

    def give_back(self, path: str, fd: int) -> None:
        """Keep a released descriptor for the next event, closing the oldest past ``keep``."""
        if self._pid != os.getpid() or path in self._idle:
            os.close(fd)
            return
        self._idle[path] = fd
        while len(self._idle) > self.keep:
            os.close(self._idle.popitem(last=False)[1])

    def close(self) -> None:
        """Close every idle descriptor."""
        while self._idle:
            os.close(self._idle.popitem()[1])


class FileLock:
    """``async with``: an OS file lock (flock / LockFileEx via filelock) that never blocks the loop.

    A busy lock is retried with a growing ``asyncio.sleep``; cancelling the wait leaves
    nothing held. The OS drops the lock of a killed process, so a crash never leaves it stuck.
    Lock files stay after release: unlinking one would let two waiters lock different inodes.
    """

    __slots__ = ("_path", "_fd", "_files")

    def __init__(self, path: str, files: LockFiles | None = None) -> None:
        self._path = path
        self._fd = -1
        self._files = files

    async def __aenter__(self) -> None:
        fd = _open_lock_file(self._path) if self._files is None else self._files.take(self._path)
        delay = _FIRST_BACKOFF
        try:
            while not lock_descriptor(fd, blocking=False):
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    async def __aexit__(self, *exc_info: object) -> None:
        fd, self._fd = self._fd, -1
        try:
            unlock_descriptor(fd)
        except BaseException:
            os.close(fd)
            raise
        if self._files is None:
            os.close(fd)
        else:
            self._files.give_back(self._path, fd)


def _open_lock_file(path: str) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags, 0o666)
