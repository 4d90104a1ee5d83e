"""One JSON file per session, named and shaped as Bottender's FileSessionStore writes them.

``<dirname>/<platform>:<key>.json`` holds the compact JSON record, so a Bottender bot (whose
store is node ``jfs``) and this package read each other's files. Beyond Bottender: writes are
atomic (a temp file, then ``os.replace``), processes sharing the directory take turns on a
session through a lock file in ``<dirname>/.locks/`` (:mod:`.file_lock`), and an id is never
a path.

Reading is bounded: a session file is opened without blocking (a FIFO named like a session
would otherwise stop the event loop), must be a regular file (not a FIFO, a device such as a
symlink to ``/dev/zero``, or a directory) and of bounded size (:mod:`.file_io`); anything
else is a :class:`~bottender_nb.errors.CorruptSessionError` naming it, and is left untouched.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import CorruptSessionError, StoreError
from ..record import dumps_utf8, loads
from .base import Clock, ExpiresIn, SessionStore
from .held import HeldSession
from .file_history import FileHistory
from .file_lock import FileLock
from .file_io import os_error_cause, read_session_file, replace_atomically, sync_directory
from .filenames import SUFFIX, names_ending, session_filename

LOCK_DIRNAME = ".locks"
_TEMP_SUFFIX = ".tmp"
_STALE_TEMP_SECONDS = 60.0  # a temp file this old belongs to a write that died


class FileSessionStore(SessionStore):
    """Sessions as ``<dirname>/<platform>:<key>.json`` files, readable by Bottender and back.

    :param durable: fsync each file, turn and directory before a write returns. Off by default:
        ``os.replace`` already makes a write atomic against a crashed or killed process (the
        file is the old version or the new one, never torn), which is the failure a bot or a
        notebook kernel meets; fsync only adds survival of a power cut or kernel crash, at a cost
        of milliseconds per event on real disks while the session's lock is held. Bottender's
        own store does not fsync either. Turn it on when the host itself may die.

    File I/O runs on the event loop: a session file is a few hundred bytes, and a hop to a
    thread would cost more than the write.
    """

    def __init__(
        self,
        dirname: str | os.PathLike[str] = ".sessions",
        *,
        expires_in: ExpiresIn = None,
        clock: Clock = time.time,
        durable: bool = False,
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        self.dirname = Path(dirname)
        self.durable = durable
        self._dir = os.fspath(dirname)
        self._lock_dir = os.path.join(self._dir, LOCK_DIRNAME)
        self._temp_token = secrets.token_hex(4)
        self._temp_counter = itertools.count()
        self._paths: dict[str, tuple[str, str]] = {}  # session id -> its file, its lock file
        self.history = FileHistory(dirname, durable=durable)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dir!r}, durable={self.durable})"

    def path(self, session_id: str) -> Path:
        """The file that holds ``session_id``."""
        return self.dirname / session_filename(session_id)

    def files(self) -> list[Path]:
        """Every session file in the directory (empty when it does not exist yet)."""
        return [self.dirname / name for name in names_ending(self._dir, SUFFIX)]

    async def init(self) -> FileSessionStore:
        """Create the directory (and its lock directory)."""
        try:
            os.makedirs(self._lock_dir, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the session lock directory {self._lock_dir} "
                f"({os_error_cause(exc)}); make {self._dir} writable, or choose another dirname."
            ) from exc
        return self

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        return self._load(self._paths_of(session_id)[0])

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Atomically replace the session's file; a non-JSON value raises and writes nothing."""
        await self._write(session_id, session)  # one encode is the copy and the check

    async def _write(self, session_id: str, record: Mapping[str, Any]) -> None:
        data = dumps_utf8(record)
        path = self._paths_of(session_id)[0]
        try:
            try:
                self._replace(path, data)
            except FileNotFoundError:  # the directory is gone or was never made: make it, once
                os.makedirs(self._dir, exist_ok=True)
                self._replace(path, data)
        except OSError as exc:
            raise StoreError(
                f"Cannot write the session file {path} ({os_error_cause(exc)}); the stored session "
                "is unchanged."
            ) from exc

    async def _destroy(self, session_id: str) -> None:
        path = self._paths_of(session_id)[0]
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"Cannot delete the session file of {session_id!r}: {exc}") from exc
        if self.durable:
            sync_directory(self._dir)

    async def _all(self) -> list[dict[str, Any]]:
        # Regular files only, as ever; entries() also reports the odd ones (a FIFO, a directory).
        records = (self._load(os.fspath(path)) for path in self.files())
        return [record for record in records if record is not None]

    async def entries(self) -> list[tuple[str, dict[str, Any] | CorruptSessionError]]:
        """Every session file, expired or not: ``(path, record or its CorruptSessionError)``."""
        return [entry async for batch in self.entry_batches() for entry in batch]

    async def entry_batches(
        self, size: int = 1000
    ) -> AsyncIterator[list[tuple[str, dict[str, Any] | CorruptSessionError]]]:
        """The session files, read ``size`` at a time (only their names are listed at once)."""
        paths = self._entry_paths()
        for start in range(0, len(paths), size):
            batch: list[tuple[str, dict[str, Any] | CorruptSessionError]] = []
            for path in paths[start:start + size]:
                try:
                    record = self._load(path)
                except CorruptSessionError as exc:
                    batch.append((path, exc))
                else:
                    if record is not None:  # destroyed meanwhile
                        batch.append((path, record))
            yield batch

    def _entry_paths(self) -> list[str]:
        """Every ``*.json`` entry (not hidden temp files), regular or not: odd ones are errors."""
        try:
            with os.scandir(self._dir) as entries:
                names = sorted(
                    e.name for e in entries if e.name.endswith(SUFFIX) and not e.name.startswith(".")
                )
        except FileNotFoundError:
            return []
        return [os.path.join(self._dir, name) for name in names]

    async def purge_expired(self) -> int:
        """Delete the files of expired sessions, and their histories; how many went.
        Unparseable files are left.

        Also deletes the temp files of writes that never finished (a writer killed between
        creating its temp file and renaming it), once they are a minute old: a write takes
        milliseconds, so no live writer still owns one.
        """
        self._remove_stale_temp_files()
        if self.expires_in is None:
            return 0
        purged = 0
        for path in self.files():
            async with FileLock(self._lock_path(path.name[: -len(SUFFIX)])):
                try:
                    record = self._load(os.fspath(path))
                except StoreError:
                    continue
                if record is not None and self.is_expired(record):
                    path.unlink(missing_ok=True)
                    if isinstance(record.get("id"), str):  # its turns go with it
                        await self.history.destroy(record["id"])
                    purged += 1
        return purged

    def _remove_stale_temp_files(self) -> None:
        stale_before = time.time() - _STALE_TEMP_SECONDS
        try:
            with os.scandir(self._dir) as entries:
                leftovers = [
                    entry.path for entry in entries
                    if entry.name.startswith(".") and entry.name.endswith(_TEMP_SUFFIX)
                    and entry.is_file() and entry.stat().st_mtime < stale_before
                ]
        except FileNotFoundError:
            return
        for path in leftovers:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    async def _take(self, session_id: str, cancels: int) -> HeldSession:
        """Lock the session's lock file (shared by every process using this directory), read."""
        lock = FileLock(self._paths_of(session_id)[1])
        await lock.acquire()
        try:
            return HeldSession(self, session_id, await self.read(session_id), lease=lock)
        except BaseException:
            lock.release()
            raise

    async def _release(self, held: HeldSession) -> None:
        held.lease.release()

    # -- file primitives ------------------------------------------------------------------

    def _paths_of(self, session_id: str) -> tuple[str, str]:
        """The session's file and its lock file, worked out once per id (kept for 4096 ids)."""
        paths = self._paths.get(session_id)
        if paths is None:
            name = session_filename(session_id)
            paths = (os.path.join(self._dir, name), self._lock_path(name[: -len(SUFFIX)]))
            if len(self._paths) >= 4096:
                self._paths.clear()
            self._paths[session_id] = paths
        return paths

    def _lock_path(self, stem: str) -> str:
        # ".lock", not ".json": a lock file never reads as a session, and names stay < 256 bytes.
        return os.path.join(self._lock_dir, stem + ".lock")

    def _load(self, path: str) -> dict[str, Any] | None:
        try:
            data = read_session_file(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"Cannot read the session file {path} ({os_error_cause(exc)}).") from exc
        return loads(data, where=f"The session file {path}")

    def _replace(self, path: str, data: bytes) -> None:
        temp = os.path.join(
            self._dir,
            f".{os.getpid()}-{self._temp_token}-{next(self._temp_counter)}{_TEMP_SUFFIX}",
        )
        replace_atomically(path, data, temp, durable=self.durable)
