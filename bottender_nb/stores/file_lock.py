"""A session's lock file, shared by every process using the directory, awaited off the loop's back.

The lock is filelock's: :func:`filelock.lock_descriptor` / :func:`filelock.unlock_descriptor`
(``flock`` on Unix, ``LockFileEx`` on Windows), the primitive of ``filelock.FileLock``, so these
locks contend with filelock's own. What is kept beside filelock, and why:

- **The wait.** ``filelock.AsyncFileLock`` either hops to a thread for every acquire or polls
  through its general machinery, which costs as much as the small atomic write it guards
  (``benchmarks/bench_local_stores.py`` compares the store with raw atomic writes). A
  non-blocking try, then a growing ``asyncio.sleep`` between tries, costs a few system calls
  and never blocks the loop.

Nothing outlives an event: the lock file is opened, locked, unlocked and closed around each
one. No descriptor is cached and no lock is kept between events, so a loop blocked by an
action, a cancelled event and a forked child have nothing they could get wrong.
"""

from __future__ import annotations

import asyncio
import os

from filelock import lock_descriptor, unlock_descriptor

from ..errors import StoreError

_FIRST_BACKOFF, _MAX_BACKOFF = 0.0005, 0.02  # seconds between tries for a busy lock
_OPEN_LOCK = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)


class FileLock:
    """``async with FileLock(path)``: an exclusive OS lock on ``path``, held for one block.

    Cancelling the wait leaves nothing held. The OS drops the lock of a killed process, so a
    crash never leaves it stuck. Lock files stay after release: unlinking one would let two
    waiters lock different inodes.
    """

    __slots__ = ("_path", "_fd")

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd = -1

    async def acquire(self) -> None:
        """Wait for the lock; cancelling the wait leaves nothing held."""
        fd = _open_lock_file(self._path)
        await wait_for_lock(fd)
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (once; a second call does nothing)."""
        fd, self._fd = self._fd, -1
        if fd == -1:
            return
        try:
            unlock_descriptor(fd)
        finally:
            os.close(fd)  # closing drops the lock even if the unlock failed

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()


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
    try:
        try:
            return os.open(path, _OPEN_LOCK, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return os.open(path, _OPEN_LOCK, 0o666)
    except OSError as exc:
        raise StoreError(
            f"Cannot open the session lock file {path} ({exc.strerror or exc}); make its "
            "directory writable, or choose another dirname."
        ) from exc
