"""Where sessions and turns come from: one dispatcher, and the stores' own batches.

A ``Bot`` (its store), a session store, or a file store's directory all become a store
(:func:`store_of`); sessions and turns are then read only through it and its history, a batch
at a time (``entry_batches``), so the analysis layer has no listing or parser of its own and a
Redis Cluster is read the way its store reads it (SCAN on every primary). A list of records is
the one source that is not a store.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from tqdm.auto import tqdm

from ..errors import MissingSourceError, SourceError
from ..session.sync import run_sync
from ..stores.base import SessionStore

PROGRESS_THRESHOLD = 1000
"""Loads of more entries than this show a progress bar (unless ``progress=False``)."""
_HINT = "pass a bot, a session store, a file store's directory (Bottender's default is \".sessions\")"


def store_of(source: Any, function: str) -> tuple[SessionStore | None, str]:
    """The store ``source`` names (``None`` for a list of records) and a name for messages."""
    if isinstance(source, (str, os.PathLike)):
        dirname = os.fspath(source)
        if not os.path.isdir(dirname):
            raise MissingSourceError(f"{dirname!r} is not a directory of session files; {_HINT}, or a list.")
        from ..stores.file import FileSessionStore

        return FileSessionStore(dirname), dirname
    store = getattr(source, "session_store", source)  # a Bot's store
    if isinstance(store, SessionStore) or inspect.iscoroutinefunction(getattr(store, "all", None)):
        return store, repr(store)  # a store, or one like it (an async all(), as Bottender's)
    if isinstance(source, (bytes, Mapping)) or not hasattr(source, "__iter__"):
        raise SourceError(f"{function} needs a directory name, a session store or a list (or a bot), "
                          f"not {type(source).__name__}.")
    return None, "the list"


def session_batches(store: SessionStore, size: int = 1000) -> Iterator[list[tuple[str, Any]]]:
    """The store's sessions (expired ones too), ``(where, record or error)``, a batch at a time."""
    if not isinstance(store, SessionStore):  # only all(): one batch
        return iter([[(f"record {index}", record) for index, record in enumerate(run_sync(store.all()))]])
    run_sync(store.init())
    return iterate(store.entry_batches(size))


def turn_batches(store: SessionStore, size: int = 10_000) -> Iterator[list[tuple[str, Any]]]:
    """The kept turns of the store's history, ``(where, record or error)``, a batch at a time."""
    run_sync(store.init())
    return iterate(store.require_history().entry_batches(size))


def iterate(batches: AsyncIterator[Any]) -> Iterator[Any]:
    """An async iterator, item by item, from sync code (one loop step per batch)."""
    while True:
        try:
            yield run_sync(batches.__anext__())
        except StopAsyncIteration:
            return


class Progress:
    """A tqdm bar of entries read (a store streams: no total), shown from the start with
    ``progress=True``, never with ``False``, and by default once past PROGRESS_THRESHOLD."""

    def __init__(self, progress: bool | None, desc: str, unit: str = " sessions") -> None:
        self.progress, self.desc, self.unit, self.count = progress, desc, unit, 0
        self.bar: tqdm | None = None

    def update(self, count: int) -> None:
        self.count += count
        if self.bar is None and (self.progress or (self.progress is None and self.count > PROGRESS_THRESHOLD)):
            self.bar = tqdm(desc=self.desc, unit=self.unit, initial=self.count - count)
        if self.bar is not None:
            self.bar.update(count)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()
