"""Stored sessions as a pandas DataFrame (turns and transcripts: :mod:`.turns`, :mod:`.transcripts`).

``sessions_frame(".sessions")`` is the analysis entry point: one row per session, state
flattened into ``state.*`` columns (colliding names kept apart, see
:func:`~.columns.flatten_columns`). Invalid entries -- a bad file, a bad Redis key -- are
reported in ``frame.attrs["errors"]`` and a warning, never raised, so one bad file cannot hide
a thousand good ones; a value that does not fit its column (``lastActivity`` beyond the years
pandas holds) is reported there too, and its row kept with the cell empty.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..errors import SourceError
from ..stores.base import Clock, ExpiresIn, SessionStore, to_timedelta
from . import sources
from .columns import SessionTable
from .turns import _is_parquet

SessionSource = str | os.PathLike[str] | SessionStore | Iterable[Mapping[str, Any]]


def sessions_frame(
    source: SessionSource,
    *,
    expires_in: ExpiresIn = None,
    progress: bool | None = None,
    clock: Clock | None = None,
) -> pd.DataFrame:
    """One row per stored session: ``id``, ``platform``, ``key``, ``user_id``,
    ``last_activity`` (UTC), ``expired`` (when an expiry is known) and ``state.*`` columns.

    :param source: a directory of session files (ours or a Bottender bot's), a session store
        (expired sessions included and marked; a ``FileSessionStore``'s files are read
        directly), or a list of session dicts.
    :param expires_in: minutes or a timedelta; overrides the store's. Adds ``expired``.
    :param progress: a tqdm bar; by default only for more than 1000 sessions.
    :param clock: "now" for ``expired``, epoch seconds; the store's clock for a store.
    """
    if _is_parquet(source):
        from .parquet import read_parquet

        return read_parquet(source)
    table = SessionTable()
    expiry = to_timedelta(expires_in)
    store, where = sources.store_of(source, "sessions_frame")
    if store is None:
        _load_list(source, table, progress)
    else:
        _load_store(store, table, progress)
        if not isinstance(source, (str, os.PathLike)):
            expiry = expiry or getattr(store, "expires_in", None)
            clock = clock or getattr(store, "clock", None)
    expired = None
    if expiry is not None:
        limit_ms = (clock or time.time)() * 1000 - expiry.total_seconds() * 1000
        expired = table.last_activity_ms() < limit_ms  # NaN (no lastActivity) never expires
    frame = table.frame(expired)
    frame.attrs["errors"] = table.errors
    skipped = len(table.errors) - table.emptied
    what = "entries that are not valid sessions"
    if table.emptied:  # rows kept, one value left empty: say so, not just "skipped"
        what += f" and left {table.emptied} value(s) that do not fit their column empty"
    _warn_skipped(table.errors, "sessions_frame", what, where, skipped)
    return frame


def _load_store(store: SessionStore, table: SessionTable, progress: bool | None) -> None:
    """Every session the store holds, a batch at a time; a bad entry is reported, not raised."""
    with sources.Progress(progress, "Loading sessions") as bar:
        for batch in sources.session_batches(store):
            for where, item in batch:
                if isinstance(item, BaseException):
                    table.errors.append((where, str(item)))
                else:
                    table.add(item, where)
            bar.update(len(batch))


def _load_list(items: Any, table: SessionTable, progress: bool | None) -> None:
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise SourceError(
            "sessions_frame needs a directory name, a session store or a list of session "
            f"dicts, not {type(items).__name__}."
        )
    with sources.Progress(progress, "Loading sessions") as bar:
        records = list(items)
        for index, record in enumerate(records):
            table.add(record, f"item {index}")
        bar.update(len(records))


def _warn_skipped(
    errors: list[tuple[str, str]], function: str, what: str, where: str, count: int | None = None
) -> None:
    if errors:
        warnings.warn(
            f"{function} skipped {len(errors) if count is None else count} {what} (in {where}); "
            "frame.attrs['errors'] lists each as (where, why).",
            stacklevel=3,
        )
