"""Every kept turn as a pandas DataFrame: ``turns_frame(bot)``, one row per turn (SPEC §7).

Turns come from a store's history (a bot's, a store, or a file store's directory, read file
by file without a store) or from a list. Like ``sessions_frame``, a bad entry (a torn line,
a turn with a time no datetime column can hold) is reported in ``frame.attrs["errors"]`` and
a warning, never raised. Records are checked column by column (``set(map(type, column))``)
and only a batch that fails that check is walked turn by turn to find the bad ones.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..session.sync import run_sync
from ..stores.base import SessionStore
from ..turns import KINDS, Turn, _problem
from .columns import flatten_columns, to_column

COLUMNS = ["session_id", "platform", "turn", "time", "kind", "text", "replies", "changed"]
STATE_PREFIX = "state."
_SECONDS_LIMIT = 9.2e9  # epoch seconds a datetime64[ns] column holds: years 1678 to 2261
_KINDS = frozenset(KINDS)
_EMPTY: dict[str, Any] = {}
_NO_ITEMS: list[Any] = []
Entry = tuple[str, Any]


class TurnTable:
    """The turns of a frame, added a batch at a time; ``errors`` lists the rejects."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.errors: list[tuple[str, str]] = []

    def add(self, entries: Iterable[Entry]) -> None:
        """Keep the good turns of ``entries`` (``(where, record or error)`` pairs)."""
        batch: list[Entry] = []
        for where, entry in entries:
            if type(entry) is dict:
                batch.append((where, entry))
            elif isinstance(entry, Exception):
                self.errors.append((where, str(entry)))
            elif isinstance(entry, Turn):
                batch.append((where, entry.as_record()))
            elif isinstance(entry, Mapping):
                batch.append((where, dict(entry)))
            else:
                self.errors.append((where, f"is a {type(entry).__name__}, not a turn"))
        records = [record for _, record in batch]
        if _all_good(records):
            self.records += records
            return
        for where, record in batch:  # the slow path, to name each bad one
            problem = _row_problem(record)
            if problem:
                self.errors.append((where, problem))
            else:
                self.records.append(record)

    def column(self, name: str) -> list[Any]:
        return list(map(dict.get, self.records, itertools.repeat(name)))

    def states(self) -> list[dict[str, Any]]:
        return [state or _EMPTY for state in self.column("state")]

    def frame(self) -> pd.DataFrame:
        sessions = self.column("session_id")
        platforms = [
            platform or (session_id or "").partition(":")[0]
            for platform, session_id in zip(self.column("platform"), sessions)
        ]
        times = np.array(self.column("time"), dtype=float)
        data: dict[str, Any] = {
            "session_id": to_column(sessions),
            "platform": to_column(platforms),
            "turn": to_column(self.column("index")),
            "time": pd.to_datetime(times, unit="s", utc=True).as_unit("ns"),
            "kind": to_column(self.column("kind")),
            "text": to_column(self.column("text")),
            "replies": _objects([value or [] for value in self.column("replies")]),
            "changed": _objects([value or [] for value in self.column("changed")]),
        }
        for name, values in flatten_columns(self.states(), STATE_PREFIX).items():
            if name not in data:
                data[name] = to_column(values)
        return pd.DataFrame(data)


def turns_frame(source: Any) -> pd.DataFrame:
    """One row per kept turn: ``session_id``, ``platform``, ``turn`` (its index), ``time``
    (UTC), ``kind``, ``text``, ``replies``, ``changed`` and the state after it as ``state.*``.

    :param source: a ``Bot`` or a session store (their histories), a file store's directory
        (read without a store), or a list of turns (``Turn`` objects or their dicts).
    """
    table, where = collect(source, "turns_frame")
    frame = table.frame()
    frame.attrs["errors"] = table.errors
    warn_skipped(table.errors, "turns_frame", "entries that are not valid turns", where)
    return frame


def collect(source: Any, function: str) -> tuple[TurnTable, str]:
    """The turns of ``source`` (see :func:`turns_frame`) and a name for where they came from."""
    table = TurnTable()
    store = getattr(source, "session_store", source)  # a Bot's store
    if isinstance(source, (str, os.PathLike)):
        dirname = os.fspath(source)
        if not os.path.isdir(dirname):
            raise FileNotFoundError(
                f"{dirname!r} is not a directory of session files; pass a file store's dirname "
                "(Bottender's default is \".sessions\"), a bot, a session store, or a list of turns."
            )
        _load_files(dirname, table)
        return table, dirname
    if isinstance(store, SessionStore):
        dirname = _file_store_dirname(store)
        if dirname is not None:
            _load_files(dirname, table)
            return table, dirname
        table.add(run_sync(_store_entries(store)))
        return table, repr(store)
    if isinstance(source, (bytes, Mapping)) or not isinstance(source, Iterable):
        raise TypeError(
            f"{function} needs a bot, a session store, a file store's directory or a list of "
            f"turns, not {type(source).__name__}."
        )
    table.add((f"item {index}", item) for index, item in enumerate(source))
    return table, "the list"


def warn_skipped(errors: list[tuple[str, str]], function: str, what: str, where: str) -> None:
    if errors:
        warnings.warn(
            f"{function} skipped {len(errors)} {what} (in {where}); "
            "frame.attrs['errors'] lists each as (where, why).",
            stacklevel=3,
        )


def _load_files(dirname: str, table: TurnTable) -> None:
    from ..stores.file_history import FileHistory, file_entries

    for path in FileHistory(dirname).files():
        table.add(file_entries(path))


def _file_store_dirname(store: SessionStore) -> str | None:
    from .sources import is_file_store

    return os.fspath(store.dirname) if is_file_store(store) else None  # type: ignore[attr-defined]


async def _store_entries(store: SessionStore) -> list[Entry]:
    await store.init()
    return await store.require_history().entries()


def _all_good(records: list[dict[str, Any]]) -> bool:
    """True when every record is a turn (the column-by-column form of :func:`_row_problem`)."""
    if not records:
        return True
    get, repeat = dict.get, itertools.repeat
    indexes = list(map(get, records, repeat("index")))
    if set(map(type, indexes)) != {int} or min(indexes) < 0:
        return False
    times = list(map(get, records, repeat("time")))
    if not set(map(type, times)) <= {int, float}:
        return False
    if not np.all(np.abs(np.array(times, dtype=float)) < _SECONDS_LIMIT):  # NaN fails too
        return False
    if not set(map(get, records, repeat("kind"))) <= _KINDS:
        return False
    for name, default, allowed in (
        ("state", _EMPTY, Mapping), ("state_before", _EMPTY, Mapping),
        ("replies", _NO_ITEMS, list), ("changed", _NO_ITEMS, list),
    ):  # a missing field reads as its default, as Turn.from_record takes it
        if not all(issubclass(kind, allowed) for kind in set(map(type, map(get, records, repeat(name), repeat(default))))):
            return False
    return True


def _row_problem(record: dict[str, Any]) -> str:
    problem = _problem(record)
    if problem:
        return f"is not a valid turn: {problem}"
    if not abs(float(record["time"])) < _SECONDS_LIMIT:
        return f"has time {record['time']!r}, beyond what a datetime column holds (years 1678-2261)"
    return ""


def _objects(values: list[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))
