"""The file store's I/O: reading a file within bounds, and replacing one atomically.

Reading one session file: never blocking, never past a size, regular files only.

A name in the session directory may be anything: a FIFO (opening it for reading would wait for
a writer, so the whole event loop would stop), a symlink to ``/dev/zero`` (endless), a device
or a directory. Each is a :class:`~bottender_nb.errors.CorruptSessionError` naming it, found
within a bounded time, with the entry left untouched.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress

from ..errors import CorruptSessionError
from .filenames import WINDOWS

MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest session file read (16 MiB): a record is a few hundred bytes to a few hundred
kilobytes; anything past this is refused instead of read into memory."""
# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
_OPEN_READ = (
    os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
)
_READ_SIZE = 1 << 16


def read_session_file(path: str) -> bytes:
    """The whole of a regular file of at most MAX_FILE_BYTES; CorruptSessionError otherwise."""
    fd = os.open(path, _OPEN_READ)
    try:
        info = os.fstat(fd)  # of what was opened: a symlink is judged by its target
        if not stat.S_ISREG(info.st_mode):
            raise CorruptSessionError(
                f"The session file {path} is {_kind(info.st_mode)}, not a regular file; "
                "remove it (it was left untouched)."
            )
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(path)
        chunks = [os.read(fd, _READ_SIZE)]
        total = len(chunks[0])
        while len(chunks[-1]) == _READ_SIZE:  # a short read of a regular file is its end
            if total > MAX_FILE_BYTES:  # still growing past what fstat said
                raise _too_large(path)
            chunks.append(os.read(fd, _READ_SIZE))
            total += len(chunks[-1])
    finally:
        os.close(fd)
    return b"".join(chunks)


def _too_large(path: str) -> CorruptSessionError:
    return CorruptSessionError(
        f"The session file {path} is larger than {MAX_FILE_BYTES} bytes, more than any session "
        "record; remove it (it was left untouched)."
    )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def os_error_cause(exc: OSError) -> str:
    """``No space left on device (ENOSPC)``: the OS's words and the code to search for."""
    name = errno.errorcode.get(exc.errno or 0)
    words = exc.strerror or str(exc)
    return f"{words} ({name})" if name else words


_OPEN_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (one ``os.write`` may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def replace_atomically(path: str, data: bytes, temp: str, *, durable: bool = False) -> None:
    """Make ``path`` hold ``data``: written to the new file ``temp``, then ``os.replace``-d, so a
    crash leaves the old content or the new, never a torn file. ``durable``: fsync the file
    first, and its directory after the rename, so the new name survives a power loss too."""
    fd = os.open(temp, _OPEN_NEW, 0o666)
    try:
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    if durable:
        sync_directory(os.path.dirname(path) or ".")


def sync_directory(dirname: str) -> None:
    """fsync ``dirname``, so a file made, renamed or removed in it survives a power loss."""
    if WINDOWS:  # directories cannot be opened for fsync there; NTFS journals renames
        return
    fd = os.open(dirname, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
