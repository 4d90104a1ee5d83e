"""Drop-off: where the conversations that went quiet were left.

A session has dropped off when its last turn is more than ``idle`` before ``now`` (by default
the frame's latest turn, so an old export reads as it did then). Its value of one state field
after that last turn says where it stopped: which question went unanswered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalyticsError
from .turns_contract import (check_frame, field_name, in_turn_order, shares, state_column, turn_times,
                             value_codes)

Idle = str | timedelta | pd.Timedelta
Now = str | float | datetime | pd.Timestamp | None


def drop_off(turns: pd.DataFrame, field: str, idle: Idle, now: Now = None) -> pd.DataFrame:
    """For the sessions with no turn for longer than ``idle``: how many ended at each value of ``field``.

    ``idle`` is a duration (``"30min"``, ``pd.Timedelta(hours=1)``, a ``timedelta``); ``now`` a
    time (a Timestamp, an ISO string, epoch seconds; naive means UTC), by default the frame's
    latest turn. Columns: the field's name (its value after the session's last turn, ``None``
    when unset), ``sessions`` and ``share`` (of the dropped-off sessions), most sessions first
    (ties in value order, unset last).
    ``attrs`` holds ``sessions`` (all sessions) and ``dropped_off``. (A field named ``sessions``
    or ``share`` keeps its ``state.`` prefix in the column name.)
    """
    turns = check_frame(turns, "time")
    column = state_column(turns, field)
    name = field_name(column or field)
    name = f"state.{name}" if name in ("sessions", "share") else name
    idle = _duration(idle)
    ordered = in_turn_order(turns)
    ends = ordered.ends
    last_times = ordered.take(turn_times(turns))[ends]
    moment = last_times.max() if now is None else _moment(now)
    quiet = ((moment - last_times) > idle).to_numpy(dtype=bool, na_value=False)
    if column is None:  # an empty frame: no sessions, no values
        values, found, counts = np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64), np.zeros(0)
    else:
        codes, values = value_codes(ordered.column(column)[ends], column)
        found, counts = _counts(codes[quiet])
    result = pd.DataFrame({
        name: pd.Series(values[found], dtype=object),
        "sessions": np.asarray(counts, dtype=np.int64),
        "share": shares(counts, quiet.sum()),
    })
    result.attrs.update(sessions=int(ordered.sessions), dropped_off=int(quiet.sum()))
    return result


def _counts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes that occur and how often, most common first (ties in code order: by value)."""
    cells = np.bincount(codes)
    found = np.flatnonzero(cells)
    order = np.argsort(-cells[found], kind="stable")
    return found[order], cells[found][order]


def _duration(idle: Any) -> pd.Timedelta:
    problem = f"idle must be a positive duration such as '30min', '2h' or pd.Timedelta(days=1), not {idle!r}."
    if isinstance(idle, (int, float)):  # pd.Timedelta would read a bare number as nanoseconds
        raise AnalyticsError(problem)
    try:
        duration = pd.Timedelta(idle)
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(problem) from exc
    if pd.isna(duration) or duration < pd.Timedelta(0):
        raise AnalyticsError(problem)
    return duration


def _moment(now: Any) -> pd.Timestamp:
    try:
        moment = pd.Timestamp(now, unit="s") if isinstance(now, (int, float)) else pd.Timestamp(now)
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(
            f"now must be a time (a Timestamp, an ISO string or epoch seconds), not {now!r}."
        ) from exc
    if pd.isna(moment):
        raise AnalyticsError(f"now must be a time (a Timestamp, an ISO string or epoch seconds), not {now!r}.")
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment
