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

STATE_PREFIX = "state."
_NONE = type(None)
_NUMBERS = frozenset({int, float})
_EMPTY: dict[str, Any] = {}  # a row without state; never mutated


class SessionTable:
    """The columns of a sessions frame, filled one record at a time; ``errors`` lists rejects."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.platforms: list[Any] = []
        self.user_ids: list[Any] = []
        self.last_activity: list[Any] = []
        self.states: list[dict[str, Any]] = []
        self.errors: list[tuple[str, str]] = []

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
        self.platforms.append(record.get("platform") or session_id.partition(":")[0])
        user = record.get("user")
        self.user_ids.append(user.get("id") if type(user) is dict else None)
        last_activity = record.get("lastActivity")
        self.last_activity.append(last_activity if type(last_activity) in _NUMBERS else None)
        self.states.append(record.get("_state") or _EMPTY)

    def frame(self, expired: np.ndarray | None = None) -> pd.DataFrame:
        """The DataFrame: fixed columns, then ``state.*`` in the order fields were first seen."""
        ids = self.ids
        data: dict[str, Any] = {
            "id": to_column(ids),
            "platform": to_column(self.platforms),
            "key": to_column([session_id.partition(":")[2] for session_id in ids]),
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
    """
    columns: dict[str, list[Any]] = {}
    for key in dict.fromkeys(itertools.chain.from_iterable(rows)):  # first-seen order
        values = list(map(dict.get, rows, itertools.repeat(key)))
        name = prefix + key
        kinds = set(map(type, values))
        dict_kinds = {kind for kind in kinds if issubclass(kind, dict)}
        if not dict_kinds:
            _put(columns, name, values)
            continue
        if kinds - dict_kinds - {_NONE} or {} in values:  # some rows hold a leaf value here
            _put(columns, name, [None if isinstance(v, dict) and v else v for v in values])
        nested = [value if isinstance(value, dict) else _EMPTY for value in values]
        for sub_name, sub_values in flatten_columns(nested, name + ".").items():
            _put(columns, sub_name, sub_values)
    return columns


def _put(columns: dict[str, list[Any]], name: str, values: list[Any]) -> None:
    # {"a.b": 1, "a": {"b": 2}} names one column twice: keep each row's non-null value
    old = columns.get(name)
    columns[name] = values if old is None else [o if n is None else n for o, n in zip(old, values)]


def _problem(record: Any) -> str:
    """Why ``record`` is not a session record, or "" when it is one."""
    if not isinstance(record, dict):
        return f"holds a JSON {_json_name(record)}, not a session object"
    session_id = record.get("id")
    if type(session_id) is not str or not session_id:
        return "has no \"id\" (a session needs a string id such as \"console:1\")"
    state = record.get("_state")
    if state is not None and not isinstance(state, dict):
        return f"has a \"_state\" that is a JSON {_json_name(state)}, not an object"
    return ""


def _json_name(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


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
    elif kinds == {str}:
        return pd.Series(values, dtype="str")
    # fromiter: each value is one cell, even lists of equal length (np.array would make 2-D)
    return np.fromiter(values, dtype=object, count=len(values))


def epoch_ms_to_utc(milliseconds: np.ndarray) -> pd.DatetimeIndex:
    """Epoch milliseconds (NaN = missing) as tz-aware UTC datetimes, in nanoseconds.

    Nanoseconds, the unit pandas 2 gives and most code expects, not pandas 3's microseconds
    default, so the dtype is the same whichever pandas is installed.
    """
    return pd.to_datetime(milliseconds, unit="ms", utc=True).as_unit("ns")
