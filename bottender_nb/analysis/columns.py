"""Session records -> plain Python columns -> one DataFrame, with no per-row pandas work.

Each record's fields are appended to plain lists; states are flattened column by column at
the end and each list becomes one typed array. That is several times faster than
``pd.json_normalize`` on small records, and, unlike it, keeps an empty dict (``{}``) as a value
instead of dropping the field.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import show
from ..record import record_problem
from ..session_ids import split_session_id

STATE_PREFIX = "state."
_NONE = type(None)
_NUMBERS = frozenset({int, float})
_DICT = {dict}
_EMPTY: dict[str, Any] = {}  # a row without state; never mutated
# Epoch milliseconds that a datetime64[ns] holds (pandas' Timestamp.min/max, to the ms).
_MAX_MS = min(-pd.Timestamp.min.value, pd.Timestamp.max.value) // 1_000_000 - 1
FLATTEN_DEPTH = 32
"""State nested deeper than this stays one column of dicts instead of ever more columns."""


class SessionTable:
    """The columns of a sessions frame, filled one record at a time; ``errors`` lists rejects."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.platforms: list[Any] = []
        self.user_ids: list[Any] = []
        self.last_activity: list[Any] = []
        self.states: list[dict[str, Any]] = []
        self.errors: list[tuple[str, str]] = []
        self.emptied = 0  # of ``errors``: rows kept, with a value that did not fit left empty

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, record: Any, where: str) -> None:
        """Append one session, or note in ``errors`` why ``record`` is not one."""
        if type(record) is not dict and isinstance(record, Mapping):
            record = dict(record)
        problem = _problem(record)
        if problem:
            self.errors.append((where, problem))
            return
        session_id = record["id"]
        self.ids.append(session_id)
        self.platforms.append(record.get("platform") or split_session_id(session_id)[0])
        user = record.get("user")
        self.user_ids.append(user.get("id") if type(user) is dict else None)
        self.last_activity.append(self._epoch_ms(record.get("lastActivity"), where))
        self.states.append(record.get("_state") or _EMPTY)

    def _epoch_ms(self, value: Any, where: str) -> Any:
        """``lastActivity`` as a number pandas can date; else None, and the row reported."""
        if value is None or (type(value) in _NUMBERS and -_MAX_MS <= value <= _MAX_MS):
            return value  # (NaN and the infinities fail the comparison)
        self.errors.append((where, (
            f"has a \"lastActivity\" of {show(value)}, not a date pandas can hold (epoch "
            "milliseconds within the years 1677-2262); its row is kept with last_activity NaT: "
            "fix the value to keep it")))
        self.emptied += 1
        return None

    def frame(self, expired: np.ndarray | None = None) -> pd.DataFrame:
        """The DataFrame: fixed columns, then ``state.*`` in the order fields were first seen."""
        ids = self.ids
        data: dict[str, Any] = {
            "id": to_column(ids),
            "platform": to_column(self.platforms),
            "key": to_column([split_session_id(session_id)[1] for session_id in ids]),
            "user_id": to_column(self.user_ids),
            "last_activity": epoch_ms_to_utc(self.last_activity_ms()),
        }
        if expired is not None:
            data["expired"] = expired
        for name, values in flatten_columns(self.states, STATE_PREFIX).items():
            data[name] = to_column(values)
        return pd.DataFrame(data)

    def last_activity_ms(self) -> np.ndarray:
        """``lastActivity`` as float epoch milliseconds, NaN where a session has none."""
        return np.array(self.last_activity, dtype=float)


def flatten_columns(rows: list[dict[str, Any]], prefix: str) -> dict[str, list[Any]]:
    """Nested dicts, one per row, as flat columns ``prefix + "a.b"``; None where a row lacks one.

    Column by column, so the per-row work is one ``dict.get`` per field (in a comprehension),
    not a Python-level walk of every row. A field holding a non-empty dict in some rows becomes
    its sub-columns; its other values (numbers, ``{}``, ...) stay in the field's own column.

    Two fields whose names would be the same column, such as the key ``"a.b"`` and the key
    ``"b"`` inside ``"a"``, are kept apart: in such a pair, a key holding a dot has it
    escaped as ``\\.`` (a backslash, in any key, as ``\\\\``), so ``{"a.b": 1, "a": {"b": 2}}``
    gives ``state.a\\.b`` = 1 and ``state.a.b`` = 2. Names that meet no other keep their dots.
    """
    columns: dict[tuple[Any, ...], list[Any]] = {}  # key path -> values, first-seen order
    _flatten(rows, (), columns)
    return _named(columns, prefix)


class FlatColumns:
    """:func:`flatten_columns` a batch of rows at a time: ``named()`` gives the same columns as
    one call on all the rows, while each batch's dicts are walked when they were just read
    (a million states walked at the end cost twice as much) and need not be kept.
    """

    def __init__(self) -> None:
        self.columns: dict[tuple[Any, ...], list[Any]] = {}  # key path -> values
        self.rows = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        batch: dict[tuple[Any, ...], list[Any]] = {}
        _flatten(rows, (), batch)
        columns, count = self.columns, len(rows)
        for path, values in batch.items():
            column = columns.get(path)
            if column is None:
                columns[path] = [None] * self.rows + values
            else:
                column += values
        self.rows += count
        for path, column in columns.items():
            if len(column) < self.rows:  # a path this batch does not have
                column += [None] * (self.rows - len(column))

    def named(self, prefix: str) -> dict[str, list[Any]]:
        """The columns in :func:`flatten_columns`' order, under its names.

        A batch with no dict at a path gives that path's own column even when all its values
        are None; over all rows, a path some rows hold a non-empty dict at has its own column
        only if some value there is not None: such an all-None column is dropped.
        """
        tree: dict[Any, Any] = {}  # key -> (subtree); first-seen order at each level
        for path in self.columns:
            node = tree
            for key in path:
                node = node.setdefault(key, {})
        ordered: dict[tuple[Any, ...], list[Any]] = {}
        self._walk(tree, (), ordered)
        return _named(ordered, prefix)

    def _walk(self, tree: dict[Any, Any], path: tuple[Any, ...],
              ordered: dict[tuple[Any, ...], list[Any]]) -> None:
        for key, subtree in tree.items():
            here = (*path, key)
            values = self.columns.get(here)
            if values is not None and not (subtree and values.count(None) == len(values)):
                ordered[here] = values
            self._walk(subtree, here, ordered)


def _named(columns: dict[tuple[Any, ...], list[Any]], prefix: str) -> dict[str, list[Any]]:
    """Key paths as column names, escaped only where two would meet (see flatten_columns)."""
    plain: dict[str, int] = {}
    for path in columns:
        name = ".".join(map(str, path))
        plain[name] = plain.get(name, 0) + 1
    named: dict[str, list[Any]] = {}
    for path, values in columns.items():
        name = ".".join(map(str, path))
        if plain[name] > 1 or "\\" in name:  # escaped names never meet a plain one
            name = ".".join(_escape(str(key)) for key in path)
        while prefix + name in named:  # only non-str keys (1 and "1") get this far
            name += "'"
        named[prefix + name] = values
    return named


def _flatten(
    rows: list[Any], path: tuple[Any, ...], columns: dict[tuple[Any, ...], list[Any]]
) -> None:
    """Fill ``columns`` (by key path) from one level of nested dicts; see flatten_columns."""
    for key in dict.fromkeys(itertools.chain.from_iterable(rows)):  # first-seen order
        values = list(map(dict.get, rows, itertools.repeat(key)))
        here = (*path, key)
        kinds = set(map(type, values))
        if kinds == _DICT:  # the usual case: every row has a dict here
            if len(here) >= FLATTEN_DEPTH:
                columns[here] = values
            else:
                if not all(values):  # some rows hold {}: a value of this field's own column
                    columns[here] = [None if v else v for v in values]
                _flatten(values, here, columns)
            continue
        dict_kinds = {kind for kind in kinds if issubclass(kind, dict)}
        if not dict_kinds or len(here) >= FLATTEN_DEPTH:
            columns[here] = values
            continue
        if kinds - dict_kinds - {_NONE} or {} in values:  # some rows hold a leaf value here
            columns[here] = [None if isinstance(v, dict) and v else v for v in values]
        nested = [value if isinstance(value, dict) else _EMPTY for value in values]
        _flatten(nested, here, columns)


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace(".", "\\.")


def _problem(record: Any) -> str:
    """Why ``record`` is not a session record, or "" when it is one."""
    problem = record_problem(record)  # the stores' own check: both call the same files invalid
    if problem is not None:
        return problem
    session_id = record.get("id")
    if type(session_id) is not str or not session_id:
        return "has no \"id\" (a session needs a string id such as \"console:1\")"
    return ""


def to_column(values: list[Any]) -> Any:
    """A typed array for one column: ints stay ints (``Int64`` with gaps), bools ``boolean``,
    numbers float64, strings pandas' string dtype; anything mixed (lists, dicts) stays object."""
    kinds = set(map(type, values))
    gaps = _NONE in kinds
    kinds.discard(_NONE)
    if kinds == {int}:
        try:
            return pd.array(values, dtype="Int64") if gaps else np.array(values, dtype=np.int64)
        except (OverflowError, TypeError):  # beyond int64: keep Python ints
            pass
    elif kinds == {bool}:
        return pd.array(values, dtype="boolean")
    elif kinds and kinds <= _NUMBERS:
        return np.array(values, dtype=float)  # None -> NaN
    # fromiter: each value is one cell, even lists of equal length (np.array would make 2-D)
    cells = np.fromiter(values, dtype=object, count=len(values))
    if kinds == {str}:  # from an object array, pandas checks the cells without a list's copy
        return pd.array(cells, dtype="str")
    return cells


def epoch_ms_to_utc(milliseconds: np.ndarray) -> pd.DatetimeIndex:
    """Epoch milliseconds (NaN = missing) as tz-aware UTC datetimes, in nanoseconds.

    Nanoseconds, the unit pandas 2 gives and most code expects, not pandas 3's microseconds
    default, so the dtype is the same whichever pandas is installed.
    """
    return pd.to_datetime(milliseconds, unit="ms", utc=True).as_unit("ns")
