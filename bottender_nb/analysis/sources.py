"""Where stored sessions come from: a directory of session files, a store, or a list of dicts.

Each loader feeds records into a :class:`~.columns.SessionTable`, which keeps the rows and
the list of rejects. A directory is read file by file without a store, so it works on any
Bottender bot's ``.sessions`` directory and reports a bad file instead of raising.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from tqdm.auto import tqdm

from ..record import parse as fast_parse
from ..session.sync import run_sync
from ..stores.base import SessionStore
from .columns import SessionTable

SUFFIX = ".json"
PROGRESS_THRESHOLD = 1000
"""Loads of more sessions than this show a progress bar (unless ``progress=False``)."""
CHUNK = 2000
"""Rows between progress-bar updates: the bar costs nothing per row."""
_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def session_files(dirname: str) -> list[str]:
    """Names of the session files in ``dirname``, sorted.

    Every regular ``*.json`` file: not lock files (``.lock``), temporary files (hidden, ``.tmp``),
    transcripts (``.jsonl``) nor subdirectories.
    """
    with os.scandir(dirname) as entries:
        return sorted(
            entry.name
            for entry in entries
            if entry.name.endswith(SUFFIX) and not entry.name.startswith(".") and entry.is_file()
        )


def load_directory(dirname: str, table: SessionTable, progress: bool | None) -> None:
    """Read every session file of ``dirname`` into ``table``."""
    names = session_files(dirname)
    prefix = os.path.join(dirname, "")
    for _, chunk in chunks(names, progress, f"Reading {dirname}"):
        for name in chunk:
            add_file(table, prefix + name)


def add_file(table: SessionTable, path: str) -> None:
    """One file into ``table``; a file that vanished meanwhile (destroyed) is skipped."""
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        table.errors.append((path, f"cannot be read ({exc.strerror or exc})"))
        return
    try:
        record = fast_parse(data)  # orjson: the common case, without json.loads' sniffing
    except (ValueError, RecursionError):
        try:
            record = json.loads(data)  # a BOM or UTF-16, or the error message for a bad file
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            table.errors.append((path, f"is not valid JSON ({exc})"))
            return
        except RecursionError:
            table.errors.append((path, "is JSON nested too deeply to parse"))
            return
    table.add(record, path)


def read_bytes(path: str) -> bytes:
    """The whole file, through bare descriptors: no buffered file object per small file."""
    fd = os.open(path, _READ)
    try:
        data = os.read(fd, 1 << 16)
        if len(data) < 1 << 16:
            return data
        chunks = [data]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_records(records: Sequence[Any], table: SessionTable, progress: bool | None, what: str) -> None:
    """Session dicts into ``table``; a reject is named ``<what> <index>``."""
    for start, chunk in chunks(records, progress, "Loading sessions"):
        for index, record in enumerate(chunk, start):
            table.add(record, f"{what} {index}")


def store_records(store: Any) -> list[Any]:
    """Every record a store holds, expired ones too when it can give them; from sync code."""
    return run_sync(_store_records(store))


async def _store_records(store: Any) -> list[Any]:
    if isinstance(store, SessionStore):
        await store.init()
        return await store._all()  # expired too: the frame marks them instead of hiding them
    return list(await store.all())


def is_file_store(store: Any) -> bool:
    """True for a :class:`~bottender_nb.stores.file.FileSessionStore` (its files can be read)."""
    try:
        from ..stores.file import FileSessionStore
    except ImportError:  # pragma: no cover - the file store needs a recent filelock
        return False
    return isinstance(store, FileSessionStore)


def chunks(items: Sequence[Any], progress: bool | None, desc: str) -> Iterator[tuple[int, Sequence[Any]]]:
    """``(start, slice)`` pairs of ``items``, ticking a tqdm bar after each slice is used."""
    show = len(items) > PROGRESS_THRESHOLD if progress is None else progress
    bar = tqdm(total=len(items), desc=desc, unit=" sessions", disable=not show)
    try:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            yield start, chunk
            bar.update(len(chunk))
    finally:
        bar.close()
