"""Stored sessions and recorded transcripts as pandas DataFrames.

``sessions_frame(".sessions")`` is the analysis entry point: one row per session, state
flattened into ``state.*`` columns. Invalid entries are reported in ``frame.attrs["errors"]``
and a warning, never raised, so one bad file cannot hide a thousand good ones.
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..stores.base import Clock, ExpiresIn, SessionStore, to_timedelta
from . import sources
from .columns import SessionTable, to_column
from .transcripts import TRANSCRIPT_FILENAME, TranscriptRecorder, read_transcript

if TYPE_CHECKING:
    import datetime as dt

SessionSource = str | os.PathLike[str] | SessionStore | Iterable[Mapping[str, Any]]
TRANSCRIPT_COLUMNS = ["time", "session_id", "platform", "direction", "text", "state"]


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
        (expired sessions included and marked), or a list of session dicts.
    :param expires_in: minutes or a timedelta; overrides the store's. Adds ``expired``.
    :param progress: a tqdm bar; by default only for more than 1000 sessions.
    :param clock: "now" for ``expired``, epoch seconds; the store's clock for a store.
    """
    table = SessionTable()
    where, expiry, now = _load(source, table, to_timedelta(expires_in), progress, clock)
    expired = None
    if expiry is not None:
        limit_ms = now * 1000 - expiry.total_seconds() * 1000
        expired = table.last_activity_ms() < limit_ms  # NaN (no lastActivity) never expires
    frame = table.frame(expired)
    frame.attrs["errors"] = table.errors
    _warn_skipped(table.errors, "sessions_frame", "entries that are not valid sessions", where)
    return frame


def _load(
    source: Any, table: SessionTable, expiry: dt.timedelta | None, progress: bool | None,
    clock: Clock | None,
) -> tuple[str, dt.timedelta | None, float]:
    """Fill ``table`` from ``source``; where it came from, the expiry and "now" that apply."""
    if isinstance(source, (str, os.PathLike)):
        dirname = os.fspath(source)
        if not os.path.isdir(dirname):
            raise FileNotFoundError(
                f"{dirname!r} is not a directory of session files; pass the store's dirname "
                "(Bottender's default is \".sessions\"), a session store, or a list of sessions."
            )
        sources.load_directory(dirname, table, progress)
        return dirname, expiry, (clock or time.time)()
    if isinstance(source, SessionStore) or inspect.iscoroutinefunction(getattr(source, "all", None)):
        expiry = expiry or getattr(source, "expires_in", None)
        now = (clock or getattr(source, "clock", time.time))()
        dirname = getattr(source, "dirname", None)
        if sources.is_file_store(source) and dirname is not None:  # read the files: bad ones reported
            if os.path.isdir(dirname):
                sources.load_directory(os.fspath(dirname), table, progress)
            return os.fspath(dirname), expiry, now
        sources.load_records(sources.store_records(source), table, progress, "record")
        return repr(source), expiry, now
    if isinstance(source, (bytes, Mapping)) or not isinstance(source, Iterable):
        raise TypeError(
            "sessions_frame needs a directory name, a session store or a list of session "
            f"dicts, not {type(source).__name__}."
        )
    sources.load_records(list(source), table, progress, "item")
    return "the list", expiry, (clock or time.time)()


def transcripts_frame(source: TranscriptRecorder | str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Recorded turns, one row per message: ``time`` (UTC), ``session_id``, ``platform``,
    ``direction`` ("in"/"out"), ``text``, ``state`` (the state after the turn, a dict).

    :param source: a :class:`TranscriptRecorder`, a ``transcripts.jsonl`` path, a session
        directory holding one, or a list of turn dicts.
    """
    errors: list[tuple[str, str]] = []
    where = "the list"
    if isinstance(source, TranscriptRecorder):
        turns, errors, where = source.read()
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            path = path / TRANSCRIPT_FILENAME
        turns, errors = read_transcript(path)
        where = str(path)
    else:
        turns = list(source)
    data = {name: [turn.get(name) for turn in turns] for name in TRANSCRIPT_COLUMNS}
    columns: dict[str, Any] = {name: to_column(values) for name, values in data.items()}
    columns["time"] = pd.to_datetime(np.array(data["time"], dtype=float), unit="s", utc=True).as_unit("ns")
    columns["state"] = np.fromiter(data["state"], dtype=object, count=len(turns))
    frame = pd.DataFrame(columns, columns=TRANSCRIPT_COLUMNS)
    frame.attrs["errors"] = errors
    _warn_skipped(errors, "transcripts_frame", "lines that are not valid turns", where)
    return frame


def _warn_skipped(errors: list[tuple[str, str]], function: str, what: str, where: str) -> None:
    if errors:
        warnings.warn(
            f"{function} skipped {len(errors)} {what} (in {where}); "
            "frame.attrs['errors'] lists each as (where, why).",
            stacklevel=3,
        )
