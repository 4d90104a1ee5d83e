"""Every kept turn as a pandas DataFrame: ``turns_frame(bot)``, one row per turn.

Turns come from a store's history (a bot's, a store, or a file store's directory), read a
batch at a time through it (:mod:`.sources`), or from a list. Like ``sessions_frame``, a bad entry (a torn line,
a turn with a time no datetime column can hold) is reported in ``frame.attrs["errors"]`` and
a warning, never raised. Records are checked column by column (``set(map(type, column))``)
and only a batch that fails that check is walked turn by turn to find the bad ones. Each
batch's states are flattened as it is read (:class:`~.columns.FlatColumns`), so the raw turns,
with their events and earlier states, are never kept.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..turns import KINDS, Turn, record_problem
from .columns import FlatColumns, to_column
from .sources import store_of, turn_batches
from ..errors import SourceError
from ..session_ids import split_session_id
from ..stores.base import SessionStore

COLUMNS = ["session_id", "platform", "turn", "time", "kind", "text", "replies", "changed"]
STATE_PREFIX = "state."
_SECONDS_LIMIT = 9.2e9  # epoch seconds a datetime64[ns] column holds: years 1678 to 2261
_KINDS = frozenset(KINDS)
_EMPTY: dict[str, Any] = {}
Entry = tuple[str, Any]
READ_BATCH = 100
"""Turns read at a time into a table: a store's history parses no further ahead, so parsed
turns die young instead of setting off the collector's full passes (``file_entries``)."""


class TurnTable:
    """The columns of the kept turns, filled a batch at a time; ``errors`` lists the rejects.

    A batch's records are checked, then only the fields a frame shows are kept (as columns):
    a million turns never sit in memory whole, with their raw events and earlier states.
    """

    FIELDS = ("session_id", "platform", "index", "time", "kind", "text", "payload", "replies",
              "changed", "state")

    def __init__(self, keep_states: bool = True) -> None:
        """``keep_states=False``: states are flattened into ``state_columns`` batch by batch
        (what a frame shows) instead of kept whole in ``columns["state"]``."""
        self.columns: dict[str, list[Any]] = {name: [] for name in self.FIELDS}
        self.state_columns = None if keep_states else FlatColumns()
        self.errors: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.columns["index"])

    def add(self, entries: Iterable[Entry]) -> None:
        """Keep the good turns of ``entries`` (``(where, record or error)`` pairs)."""
        entries = list(entries)
        records = [entry for _, entry in entries]
        if set(map(type, records)) <= {dict}:
            get, repeat = dict.get, itertools.repeat
            columns = {name: list(map(get, records, repeat(name))) for name in self.FIELDS}
            if _all_good(columns, records):
                self._keep(columns)
                return
        good = []  # the slow path, to name each bad one
        for where, entry in entries:
            if isinstance(entry, Turn):
                entry = entry.as_record()
            elif isinstance(entry, Exception):
                self.errors.append((where, str(entry)))
                continue
            elif isinstance(entry, Mapping):
                entry = dict(entry)
            else:
                self.errors.append((where, f"is a {type(entry).__name__}, not a turn"))
                continue
            problem = _row_problem(entry)
            if problem:
                self.errors.append((where, problem))
            else:
                good.append(entry)
        columns = {name: list(map(dict.get, good, itertools.repeat(name))) for name in self.FIELDS}
        columns["state"] = [state or _EMPTY for state in columns["state"]]
        for name in ("replies", "changed"):  # as the fast path has them: a list in every row
            columns[name] = [value or [] for value in columns[name]]
        self._keep(columns)

    def _keep(self, columns: dict[str, list[Any]]) -> None:
        if self.state_columns is not None:
            self.state_columns.add(columns.pop("state"))
        for name, values in columns.items():
            self.columns[name] += values

    def frame(self) -> pd.DataFrame:
        """The frame; it empties the table's columns as it goes (a million turns' worth)."""
        columns = self.columns
        data: dict[str, Any] = {
            "session_id": to_column(columns["session_id"]),
            "platform": to_column(platforms(columns)),
            "turn": to_column(columns["index"]),
            "time": seconds_to_utc(columns["time"]),
            "kind": to_column(columns["kind"]),
            "text": to_column(columns["text"]),
            "replies": _objects(columns["replies"]),
            "changed": _objects(columns["changed"]),
        }
        flat = self.state_columns
        if flat is None:
            flat = FlatColumns()
            flat.add([state or _EMPTY for state in columns["state"]])
        for name in self.FIELDS:
            columns[name] = []
        for name, values in flat.named(STATE_PREFIX).items():
            if name not in data:
                data[name] = to_column(values)
        flat.columns.clear()
        return pd.DataFrame(data, copy=False)  # its arrays are its own: no second copy


def platforms(columns: Mapping[str, list[Any]]) -> list[Any]:
    """Each turn's platform, else the one its session id starts with."""
    if all(columns["platform"]):  # every turn names its own (as the stores write them)
        return columns["platform"]
    return [
        platform or split_session_id(session_id or "")[0]
        for platform, session_id in zip(columns["platform"], columns["session_id"])
    ]


def seconds_to_utc(seconds: list[Any]) -> pd.DatetimeIndex:
    """Epoch seconds as tz-aware UTC datetimes, in nanoseconds (whichever pandas is installed)."""
    return pd.to_datetime(np.array(seconds, dtype=float), unit="s", utc=True).as_unit("ns")


def turns_frame(source: Any) -> pd.DataFrame:
    """One row per kept turn: ``session_id``, ``platform``, ``turn`` (its index), ``time``
    (UTC), ``kind``, ``text``, ``replies``, ``changed`` and the state after it as ``state.*``.

    :param source: a ``Bot`` or a session store (their histories), a file store's directory,
        a list of turns (``Turn`` objects or their dicts), or a Parquet file (or directory of
        them) that ``export_turns`` wrote.
    """
    if _is_parquet(source):
        from .parquet import read_parquet

        return read_parquet(source)
    table, where = collect(source, "turns_frame", TurnTable(keep_states=False))
    frame = table.frame()
    errors = table.errors
    frame.attrs["errors"] = errors
    warn_skipped(errors, "turns_frame", "entries that are not valid turns", where)
    return frame


def collect(source: Any, function: str, table: TurnTable | None = None) -> tuple[TurnTable, str]:
    """The turns of ``source`` (see :func:`turns_frame`) and a name for where they came from."""
    table = TurnTable() if table is None else table
    batches, where = turn_source(source, function, READ_BATCH)
    for batch in batches:
        table.add(batch)
    return table, where


def turn_source(source: Any, function: str, size: int = 10_000) -> tuple[Iterable[list[Entry]], str]:
    """Batches of ``(where, turn or error)`` and a name for the source: the one way turns are read."""
    store, where = store_of(source, function)
    if store is None:
        items = list(source)
        return ([(f"item {index}", item) for index, item in enumerate(items[start:start + size], start)]
                for start in range(0, len(items), size)), where
    if not isinstance(store, SessionStore):
        raise SourceError(f"{function} reads turns from a store's history; {type(store).__name__} keeps none.")
    return turn_batches(store, size), where


def _is_parquet(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = os.fspath(source)
    if os.path.isfile(path):
        return path.endswith(".parquet")
    return os.path.isdir(path) and any(name.endswith(".parquet") for name in os.listdir(path))


def warn_skipped(errors: list[tuple[str, str]], function: str, what: str, where: str) -> None:
    if errors:
        warnings.warn(
            f"{function} skipped {len(errors)} {what} (in {where}); "
            "frame.attrs['errors'] lists each as (where, why).",
            stacklevel=3,
        )


def _all_good(columns: dict[str, list[Any]], records: list[dict[str, Any]]) -> bool:
    """True when every record is a turn: :func:`_row_problem`, column by column.

    A field that is missing (or None) fails here; the slow path then takes it as Turn does.
    """
    indexes, times = columns["index"], columns["time"]
    if not indexes:
        return True
    if set(map(type, indexes)) != {int} or min(indexes) < 0:
        return False
    if not set(map(type, times)) <= {int, float}:
        return False
    if not np.all(np.abs(np.array(times, dtype=float)) < _SECONDS_LIMIT):  # NaN fails too
        return False
    if not set(columns["kind"]) <= _KINDS:
        return False
    befores = map(dict.get, records, itertools.repeat("state_before"))
    kinds = {
        "state": set(map(type, columns["state"])), "state_before": set(map(type, befores)),
        "replies": set(map(type, columns["replies"])), "changed": set(map(type, columns["changed"])),
    }
    return all(issubclass(kind, dict) for kind in kinds["state"] | kinds["state_before"]) and all(
        issubclass(kind, list) for kind in kinds["replies"] | kinds["changed"]
    )


def _row_problem(record: dict[str, Any]) -> str:
    problem = record_problem(record)
    if problem:
        return f"is not a valid turn: {problem}"
    if not abs(float(record["time"])) < _SECONDS_LIMIT:
        return f"has time {record['time']!r}, beyond what a datetime column holds (years 1678-2261)"
    return ""


def _objects(values: list[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))
