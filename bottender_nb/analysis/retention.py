"""Retention cohorts: of the sessions that started in a period, how many came back later.

Sessions are grouped by the calendar period (hour, day, week, month ...) of their first turn;
for each period since, the share of the cohort's sessions with a turn in that period. Periods
are counted as integers (pandas period ordinals) worked out from the integer timestamp of the
time's wall clock, or its year and month, which every engine has, so the same group-bys run
on pandas, Polars, DuckDB, PyArrow or Dask.
On pandas the answer is the cohort table; on any other engine it is the same cells in long
form (:func:`retention_table` turns one into the other).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from ..errors import AnalyticsError
from .turns_input import SESSION, START, Turns, wrap

MAX_CELLS = 5_000_000
"""A retention table holds at most this many cells (cohorts x periods since)."""
PERIODS = ("min", "h", "D", "W", "M", "Q", "Y")
_EPOCH = datetime(1970, 1, 1)
_WEEK_OFFSET = pd.Period("1970-01-05", "W").ordinal - 1  # pandas' week ordinal of our week 1
_TICKS_PER_MINUTE = {"s": 60, "ms": 60_000, "us": 60_000_000, "ns": 60_000_000_000}


def retention(turns: Any, period: str = "D") -> Any:
    """Share of each cohort's sessions active in each period since their first turn.

    On pandas: index the cohort (a pandas Period of ``period``: ``"min"``, ``"h"``, ``"D"``,
    ``"W"``, ``"M"``, ``"Q"`` or ``"Y"``); columns: periods since (0, 1, 2 ...); values: floats
    0-1, NaN for periods after the frame's last turn (not yet observed). Column 0 is 1.0: every
    session has a turn in its first period. ``attrs["cohort_sizes"]`` lists the sessions of each
    cohort. On another engine (Polars, DuckDB, PyArrow, Dask), the same kind of frame, one row
    per cell with a turn: ``cohort`` (the period's ordinal), ``periods_since``, ``sessions``,
    ``cohort_size`` and ``share``. Periods follow the time column's time zone.
    """
    wrapped = wrap(turns, "time")
    _check_period(period)
    ordinal = _ordinal(nw.col("time"), period, wrapped.schema["time"], wrapped.frame.implementation.is_duckdb())
    frame = wrapped.numbered(wrapped.in_order("time"), ordinal.alias("period"))
    known = ~nw.col("period").is_null()  # a turn without a time is in no period
    if wrapped.ordered_windows:  # a session's turns mostly share their neighbours' period: keep the changes
        key = SESSION
        changed = (nw.col("period") != wrapped.window(nw.col("period").shift(1))).fill_null(True)
        # one pass, without the session ids (strings, which a filter would copy for nothing)
        frame = frame.select(SESSION, "period", START, (known & (nw.col(START) | changed)).alias("__keep"))
        frame = frame.filter(nw.col("__keep"))
    else:
        key = "session_id"
        frame = frame.filter(known)
    active = _distinct(wrapped, frame, key)
    active = wrapped.beside(active, key, nw.col("period").min(), "cohort")  # the session's first period
    active = active.select("cohort", (nw.col("period") - nw.col("cohort")).alias("periods_since"))
    cells = active.group_by("cohort", "periods_since").agg(nw.len().alias("sessions"))
    # every session of a cohort is active in its period 0, so the cohort's size is its greatest count
    cells = (
        wrapped.beside(cells, "cohort", nw.col("sessions").max(), "cohort_size")
        .sort("cohort", "periods_since")
        .select(nw.col("cohort", "periods_since", "sessions", "cohort_size").cast(nw.Int64),
                (nw.col("sessions").cast(nw.Float64) / nw.col("cohort_size")).alias("share"))
    )
    if wrapped.pandas:
        return retention_table(cells.to_native(), period)
    return wrapped.native(cells)


def _distinct(turns: Turns, frame: Any, key: str) -> Any:
    """Each (session, period) of ``frame`` (the kept turns) once.

    A session's times mostly rise with its turns, so the periods kept from an eager frame in
    turn order usually rise within each session, and are distinct already: one look at them
    (is a period ever at or below the one before, in a session?) instead of a unique, which
    hashes every pair. A lazy frame, where the look would run the query twice, always takes
    the unique."""
    if not turns.lazy and turns.ordered_windows:
        repeats = ~nw.col(START) & (nw.col("period") <= nw.col("period").shift(1))
        if not frame.select(repeats.any()).item():
            return frame.select(key, "period")
    return frame.select(key, "period").unique([key, "period"])


def retention_table(cells: Any, period: str = "D") -> pd.DataFrame:
    """The cohort table (pandas) of :func:`retention`'s long form, from any engine."""
    frame = nw.from_native(cells)
    frame = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    cells = frame.to_pandas()
    if cells.empty:
        return _table(np.zeros((0, 0)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), period)
    cohort = cells["cohort"].to_numpy(dtype=np.int64)
    since = cells["periods_since"].to_numpy(dtype=np.int64)
    cohorts, row = np.unique(cohort, return_inverse=True)
    last = int((cohort + since).max())  # the latest turn's period: every turn is active in its own
    width = last - int(cohorts[0]) + 1
    _check_size(len(cohorts), width, period)
    table = np.zeros((len(cohorts), width))
    table[row, since] = cells["share"].to_numpy(dtype=float)
    table[cohorts[:, None] + np.arange(width) > last] = np.nan  # not observed yet
    sizes = np.zeros(len(cohorts), dtype=np.int64)
    sizes[row] = cells["cohort_size"].to_numpy(dtype=np.int64)
    return _table(table, cohorts, sizes, period)


def _ordinal(time: Any, period: str, dtype: Any, duckdb: bool) -> Any:
    """The pandas period ordinal of ``time`` (periods since 1970) on its wall clock: the integer
    timestamp floor-divided by the period's length for minutes to weeks, the calendar's year and
    month for longer periods.

    The timestamp is taken in the column's own unit (no conversion), and of the wall clock only
    outside UTC (UTC's wall clock is the timestamp itself): one division, one pass on pandas.
    Narwhals has no ``dt.timestamp`` on DuckDB, so there the ticks are the minutes of the wall
    clock less 1970 (which on pandas would go through float seconds, several passes)."""
    if period in ("M", "Q", "Y"):
        year, month = time.dt.year().cast(nw.Int64) - 1970, time.dt.month().cast(nw.Int64) - 1
        return {"M": year * 12 + month, "Q": year * 4 + month // 3, "Y": year}[period]
    if duckdb:
        ticks, minute = (time.dt.replace_time_zone(None) - _EPOCH).dt.total_minutes().cast(nw.Int64), 1
    else:
        wall = time if dtype.time_zone in (None, "UTC") else time.dt.replace_time_zone(None)
        ticks, minute = wall.dt.timestamp(dtype.time_unit), _TICKS_PER_MINUTE[dtype.time_unit]
    if period == "W":  # pandas weeks run Monday to Sunday; 1970-01-01 was a Thursday, 3 days before one
        return (ticks + (3 + 7 * _WEEK_OFFSET) * 1440 * minute) // (7 * 1440 * minute)
    return ticks // ({"min": 1, "h": 60, "D": 1440}[period] * minute)


def _check_period(period: object) -> None:
    if period not in PERIODS:
        raise AnalyticsError(
            f"period {period!r} is not a pandas period; use 'D' (day), 'W' (week), 'M' (month), "
            "'h' (hour), 'min', 'Q' or 'Y'."
        )


def _check_size(cohorts: int, width: int, period: str) -> None:
    if cohorts * width > MAX_CELLS:
        raise AnalyticsError(
            f"period {period!r} gives {cohorts} cohorts x {width} periods, too many to tabulate; "
            "choose a longer period, such as 'D' or 'W'."
        )


def _table(values: np.ndarray, cohorts: np.ndarray, sizes: np.ndarray, period: str) -> pd.DataFrame:
    index = pd.PeriodIndex.from_ordinals(cohorts, freq=period, name="cohort")
    columns = pd.RangeIndex(values.shape[1], name="periods since")
    table = pd.DataFrame(values, index=index, columns=columns)
    table.attrs["cohort_sizes"] = [int(size) for size in sizes]
    return table
