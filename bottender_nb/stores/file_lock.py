"""A per-session lock file shared by processes, awaited without blocking the event loop."""

from __future__ import annotations

import asyncio
import os

try:
    from filelock import lock_descriptor, unlock_descriptor
except ImportError as exc:  # pragma: no cover - depends on the installed filelock
    raise ImportError(
        "FileSessionStore needs filelock>=3.30; upgrade it with: pip install -U filelock"
    ) from exc

_FIRST_BACKOFF, _MAX_BACKOFF = 0.0005, 0.02  # seconds between tries for a busy lock


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
        finally:
            os.close(fd)


def _open_lock_file(path: str) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags, 0o666)
