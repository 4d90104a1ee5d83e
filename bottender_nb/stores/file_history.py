"""The file store's histories: one JSON-lines file per session in ``<dirname>/.history/``.

Neither this package's ``all()`` nor Bottender's own file store (node ``jfs``) reads a
subdirectory, so a history never shows up as a session. A line is one turn, its JSON object
opening with ``{"index":N,"keep":K,``: the index the turn got, and how many turns its writer
keeps. That fixed opening is what makes an append cost the same at turn 10 as at turn 10,000:

* the next index is read from the opening of the last line (a read of the file's tail), and
  the number of turns in the file from the first line's (a 64-byte read of its head);
* the turn goes in with one ``O_APPEND`` write of one line;
* once the file holds ``keep`` + ``max(keep, 16)`` turns, the newest ``keep`` are written to a
  temp file that replaces it: at most one rewrite of ~2 × keep lines per ~keep appends.

Readers keep the newest ``keep`` turns of the last line (the file may hold more until its next
rewrite). A line torn by a killed writer is reported by :meth:`FileHistory.entries` and skipped;
the next append starts on a fresh line. Appends to one session come from the runner, which
holds the file store's cross-process lock on that session, so indexes are handed out in order.
A ``durable`` store's appends, take-backs and rewrites are fsynced with their directory.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from ..errors import CorruptSessionError, StoreError
from ..record import parse
from .file_io import os_error_cause, replace_atomically, sync_directory, write_all
from .filenames import names_ending, session_filename
from .history import History, TurnRecord, encode_turn

HISTORY_DIRNAME = ".history"
SUFFIX = ".jsonl"
_OPENING = re.compile(rb'\{"index":(\d+),"keep":(\d+),')
_APPEND = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_HAS_PREAD = hasattr(os, "pread")
_TAIL = 2048  # bytes read at a time when looking for the last line's opening


class FileHistory(History):
    """Turns as JSON lines in ``<dirname>/.history/<session file name>l`` (see the module)."""

    def __init__(self, dirname: str | os.PathLike[str], durable: bool = False) -> None:
        self.dirname, self.durable = Path(dirname) / HISTORY_DIRNAME, durable  # as the store
        self._dir = os.fspath(self.dirname)
        self._token = secrets.token_hex(4)
        self._temps = itertools.count()  # temp files of this process are never reused
        self._firsts: dict[str, tuple[int, int]] = {}  # path -> (inode, first index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dir!r})"

    def path(self, session_id: str) -> str:
        """The file that holds ``session_id``'s turns: its session file's name, ``.jsonl``."""
        name = session_filename(session_id) + "l"
        if len(name.encode()) > 255:  # '~' never starts a session file's name: no collision
            digest = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()
            name = f"~{digest}{SUFFIX}"
        return os.path.join(self._dir, name)

    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        body = encode_turn(turn)
        path = self.path(session_id)
        try:
            try:
                fd = os.open(path, _APPEND, 0o666)
            except FileNotFoundError:
                os.makedirs(self._dir, exist_ok=True)
                fd = os.open(path, _APPEND, 0o666)
        except OSError as exc:
            raise StoreError(f"Cannot append a turn to {path} ({os_error_cause(exc)}); the "
                             "session keeps its previous state.") from exc
        try:
            stat = os.fstat(fd)
            last, torn = _last_index(fd, stat.st_size, path)
            index = last + 1
            line = b'{"index":%d,"keep":%d,%s\n' % (index, keep, body[1:])
            write_all(fd, b"\n" + line if torn else line)
            if self.durable:
                os.fsync(fd)
                if not stat.st_size:  # a new file: its name too
                    sync_directory(self._dir)
            first = self._first_index(fd, path, stat.st_ino) if stat.st_size else index
        except OSError as exc:
            raise StoreError(f"Cannot append a turn to {path} ({os_error_cause(exc)}); the "
                             "session keeps its previous state.") from exc
        finally:
            os.close(fd)
        if first is None or index - first + 1 > keep + max(keep, 16):
            self._trim(path, keep)
        turn["index"] = index
        return index

    async def undo(self, session_id: str, index: int) -> None:
        path = self.path(session_id)
        try:
            with open(path, "r+b") as file:
                data = file.read()
                start = data.rfind(b"\n", 0, len(data) - 1) + 1  # the last line's first byte
                match = _OPENING.match(data, start)
                if match and int(match.group(1)) == index:
                    file.truncate(start)
                    if self.durable:
                        os.fsync(file.fileno())
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"Cannot take back a turn from {path} ({os_error_cause(exc)}).") from exc

    def _first_index(self, fd: int, path: str, inode: int) -> int | None:
        """The file's first index, read from its head once per file (a trim makes a new one);
        a stale entry (a reused inode) is smaller, and at worst triggers one more trim."""
        known = self._firsts.get(path)
        if known is not None and known[0] == inode:
            return known[1]
        first = _first_index(fd)
        if first is not None:
            if len(self._firsts) >= 4096:
                self._firsts.clear()
            self._firsts[path] = (inode, first)
        return first

    async def read(self, session_id: str) -> list[TurnRecord]:
        entries = file_entries(self.path(session_id), where="")
        turns = [entry for part in entries for _, entry in part if not isinstance(entry, CorruptSessionError)]
        for turn in turns:
            del turn["keep"]  # the writer's, not the turn's
        return turns

    async def replace(self, session_id: str, turns: list[TurnRecord]) -> None:
        keep = max(len(turns), 1)
        data = b"".join(
            b'{"index":%d,"keep":%d,%s\n' % (turn["index"], keep, encode_turn(turn)[1:])
            for turn in turns
        )
        os.makedirs(self._dir, exist_ok=True)
        self._replace(self.path(session_id), data)

    async def destroy(self, session_id: str) -> None:
        path = self.path(session_id)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"Cannot delete the history file {path}: {exc}") from exc

    async def entries(self) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        return [entry async for batch in self.entry_batches() for entry in batch]

    async def entry_batches(
        self, size: int = 10_000
    ) -> AsyncIterator[list[tuple[str, TurnRecord | CorruptSessionError]]]:
        """About ``size`` turns at a time, parsed no further ahead (see :func:`file_entries`)."""
        batch: list[tuple[str, TurnRecord | CorruptSessionError]] = []
        for path in self.files():
            for part in file_entries(path, size):
                batch += part
                if len(batch) >= size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def files(self) -> list[str]:
        """Every history file, sorted (none before the first turn)."""
        return [os.path.join(self._dir, name) for name in names_ending(self._dir, SUFFIX)]

    def _trim(self, path: str, keep: int) -> None:
        """Rewrite ``path`` with its newest ``keep`` turns (and any bad line among them)."""
        lines = _read_lines(path)
        good = [number for number, line in enumerate(lines) if _OPENING.match(line)]
        start = good[-keep] if len(good) >= keep else (good[0] if good else 0)
        self._replace(path, b"".join(line + b"\n" for line in lines[start:]))

    def _replace(self, path: str, data: bytes) -> None:
        temp = f"{path}.{os.getpid()}-{self._token}-{next(self._temps)}.tmp"
        try:
            replace_atomically(path, data, temp, durable=self.durable)
        except OSError as exc:
            raise StoreError(
                f"Cannot rewrite the history file {path} ({os_error_cause(exc)})."
            ) from exc


def _last_index(fd: int, size: int, path: str) -> tuple[int, bool]:
    """The index of the file's last whole line (-1 if none), and whether a torn line follows."""
    if size == 0:
        return -1, False
    data = b""
    end = size
    torn = None
    while end > 0:  # read backwards until the last whole line's opening is in ``data``
        start = max(0, end - _TAIL)
        data = _pread(fd, end - start, start) + data
        end = start
        if torn is None:
            torn = not data.endswith(b"\n")
        stop = data.rfind(b"\n")
        if stop == -1:
            if start == 0:
                return -1, True  # no whole line yet: the file is one torn line
            continue
        begin = data.rfind(b"\n", 0, stop) + 1
        if begin or start == 0:
            match = _OPENING.match(data, begin)
            if match:
                return int(match.group(1)), torn
            return _scan_last_index(path), torn
    return -1, bool(torn)


def _scan_last_index(path: str) -> int:
    """The highest index of any good line: the slow way, when the last line is not one."""
    indexes = [int(m.group(1)) for m in map(_OPENING.match, _read_lines(path)) if m]
    return max(indexes, default=-1)


def _first_index(fd: int) -> int | None:
    match = _OPENING.match(_pread(fd, 64, 0))
    return int(match.group(1)) if match else None


def _read_lines(path: str) -> list[bytes]:
    try:
        fd = os.open(path, _READ)
    except FileNotFoundError:
        return []
    try:
        size = os.fstat(fd).st_size
        chunks = [os.read(fd, max(size, 1))]
        while chunks[-1]:  # the file may have grown since fstat
            chunks.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    lines = b"".join(chunks).split(b"\n")
    if not lines[-1]:
        lines.pop()  # what follows the last newline: nothing, unless a torn line
    return lines


def file_entries(
    path: str, size: int | None = None, where: str | None = None
) -> Iterator[list[tuple[str, TurnRecord | CorruptSessionError]]]:
    """The kept turns of one history file, each with where it is (``where``, else ``path``), or
    why a line is not one; ``size`` lines at a time (``None``: all), each parsed when asked for.
    Small parts keep few parsed turns alive at once, so they die young instead of reaching the
    collector's oldest generation, whose full passes took half of ``turns_frame``'s time."""
    lines = _read_lines(path)
    start, where = _oldest_kept(lines), path if where is None else where
    step = max(1, len(lines) - start) if size is None else size
    for first in range(start, len(lines), step):
        yield _parsed(lines, first, min(first + step, len(lines)), where)


def _oldest_kept(lines: list[bytes]) -> int:
    """The number of the first line the last good line's writer keeps (it keeps ``keep``)."""
    oldest = 0
    for line in reversed(lines):
        match = _OPENING.match(line)
        if match and line.endswith(b"}"):  # not a torn line's opening
            oldest = int(match.group(1)) - int(match.group(2)) + 1
            break
    for number, line in enumerate(lines):  # indexes rise through a file: skip the dropped
        match = _OPENING.match(line)
        if match is None or int(match.group(1)) >= oldest:
            return number
    return len(lines)


def _parsed(
    lines: list[bytes], start: int, stop: int, path: str
) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
    """Lines ``start`` to ``stop`` as turns; a good one's place is ``path``, a bad one's
    ``path:line`` (formatted only for bad lines: a file may hold a million)."""
    try:  # one parse for them all: a million lines cost no million calls
        records = parse(b"[" + b",".join(lines[start:stop]) + b"]")
    except ValueError:  # a torn or garbled line (or an empty one): line by line, to name it
        records = None
    if (records is not None and set(map(type, records)) <= {dict}
            and all(map(dict.__contains__, records, itertools.repeat("keep")))):
        return list(zip(itertools.repeat(path), records))  # "keep" stays: read() drops it
    return _line_by_line(lines, start, stop, path)


def _line_by_line(
    lines: list[bytes], start: int, stop: int, path: str
) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
    entries: list[tuple[str, TurnRecord | CorruptSessionError]] = []
    for number in range(start, stop):
        line = lines[number]
        if not line:
            continue
        try:
            record = parse(line)
        except ValueError:
            record = None
        if type(record) is dict and "keep" in record:
            entries.append((path, record))
        else:
            where = f"{path}:{number + 1}"
            why = "is torn or not valid JSON" if record is None else "is not a turn"
            entries.append((where, CorruptSessionError(f"{where} {why}; it is skipped.")))
    return entries


def _pread(fd: int, size: int, offset: int) -> bytes:
    """``os.pread`` where there is one; elsewhere (Windows) a seek and a read, which an
    ``O_APPEND`` write after it does not care about."""
    if _HAS_PREAD:
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)
