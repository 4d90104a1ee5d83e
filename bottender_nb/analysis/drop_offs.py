"""Drop-off: where the conversations that went quiet were left.

A session has dropped off when its last turn is more than ``idle`` before ``now`` (by default
the frame's latest turn, so an old export reads as it did then). Its value of one state field
after that last turn says where it stopped: which question went unanswered. The last turn is
the one before the next session's first, in (session, turn) order (:mod:`.turns_input`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from ..errors import AnalyticsError
from .turns_input import END, as_values, check_values_column, naive_utc, field_name, state_column, wrap

Idle = str | timedelta | pd.Timedelta
Now = str | float | datetime | pd.Timestamp | None


def drop_off(turns: Any, field: str, idle: Idle, now: Now = None) -> Any:
    """For the sessions with no turn for longer than ``idle``: how many ended at each value of ``field``.

    ``idle`` is a duration (``"30min"``, ``pd.Timedelta(hours=1)``, a ``timedelta``); ``now`` a
    time (a Timestamp, an ISO string, epoch seconds; naive means UTC), by default the frame's
    latest turn. Columns: the field's name (its value after the session's last turn, ``None``
    when unset), ``sessions`` and ``share`` (of the dropped-off sessions), most sessions first
    (ties in value order, unset last). On any engine, the same kind of frame; on pandas
    ``attrs`` holds ``sessions`` (all sessions) and ``dropped_off``. (A field named ``sessions``
    or ``share`` keeps its ``state.`` prefix in the column name.)
    """
    wrapped = wrap(turns, "time")
    column = state_column(wrapped, field)
    name = field_name(column or field)
    name = f"state.{name}" if name in ("sessions", "share") else name
    idle = _duration(idle)
    columns = ("time", "turn") if column is None else ("time", column)  # no field: no values, from turn
    frame = wrapped.numbered(wrapped.in_order(*columns), session=False, end=True)
    moment = nw.col("time").max() if now is None else nw.lit(naive_utc(wrapped, _moment(now)).to_pydatetime())
    if not wrapped.lazy and len(wrapped.frame) == 0:  # pandas' max of no times has lost their zone
        moment = nw.col("time")
    # no state fields (no turns): an all-missing column, one per row (a bare literal is one row)
    value = nw.when(nw.lit(False)).then(nw.col("turn")) if column is None else nw.col(column)
    if column is not None:
        check_values_column(wrapped, column)
    # each session's last turn: its value and time only (not the ids, strings a filter would copy)
    last = frame.select(value.alias(name), "time", END).filter(nw.col(END))
    # a time less a duration, not a difference of times (which DuckDB lacks for nanosecond times)
    quiet = last.filter(nw.col("time") < moment - idle.to_pytimedelta())
    counted = quiet.group_by(name).agg(nw.len().alias("sessions"))
    share = nw.col("sessions").cast(nw.Float64) / nw.col("sessions").sum()  # of one session at least
    result = counted.select(name, nw.col("sessions").cast(nw.Int64), share.alias("share"))
    native = wrapped.native(result.sort(["sessions", name], descending=[True, False], nulls_last=True))
    if wrapped.pandas:
        native = as_values(native, name)
        native.attrs.update(sessions=int(last.select(nw.len()).item()), dropped_off=int(native["sessions"].sum()))
    return native


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
