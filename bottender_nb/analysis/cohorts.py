"""Retention cohorts: of the sessions that started in a period, how many came back later.

Sessions are grouped by the calendar period (hour, day, week, month ...) of their first turn;
for each period since, the share of the cohort's sessions with a turn in that period. Periods
are counted as integers (pandas period ordinals) worked out from the time's calendar fields,
which every engine has, so the same group-bys run on pandas, Polars, DuckDB, PyArrow or Dask.
On pandas the answer is the cohort table; on any other engine it is the same cells in long
form (:func:`retention_table` turns one into the other).
"""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from ..errors import AnalyticsError
from .turns_contract import share, wrap

MAX_CELLS = 5_000_000
"""A retention table holds at most this many cells (cohorts x periods since)."""
PERIODS = ("min", "h", "D", "W", "M", "Q", "Y")
_WEEK_OFFSET = pd.Period("1970-01-05", "W").ordinal - 1  # pandas' week ordinal of our week 1


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
    periods = wrapped.frame.filter(~nw.col("time").is_null()).select(
        "session_id", _ordinal(nw.col("time"), period).alias("period")
    )
    active = periods.unique(["session_id", "period"])
    first = active.group_by("session_id").agg(nw.col("period").min().alias("cohort"))
    sizes = first.group_by("cohort").agg(nw.len().alias("cohort_size"))
    cells = (
        active.join(first, on="session_id")
        .with_columns((nw.col("period") - nw.col("cohort")).alias("periods_since"))
        .group_by("cohort", "periods_since")
        .agg(nw.len().alias("sessions"))
        .join(sizes, on="cohort")
        .sort("cohort", "periods_since")
        .select(nw.col("cohort", "periods_since", "sessions", "cohort_size").cast(nw.Int64),
                share(nw.col("sessions"), nw.col("cohort_size")).alias("share"))
    )
    if wrapped.pandas:
        return retention_table(cells.to_native(), period)
    return wrapped.native(cells)


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


def _ordinal(time: Any, period: str) -> Any:
    """The pandas period ordinal of ``time`` (periods since 1970), from its calendar fields."""
    year, month = time.dt.year().cast(nw.Int64), time.dt.month().cast(nw.Int64)
    if period in ("M", "Q", "Y"):
        return {"M": (year - 1970) * 12 + month - 1, "Q": (year - 1970) * 4 + (month - 1) // 3,
                "Y": year - 1970}[period]
    days = _days(year, month, time.dt.day().cast(nw.Int64))
    if period == "W":  # pandas weeks run Monday to Sunday; 1970-01-01 was a Thursday
        return (days + 3) // 7 + _WEEK_OFFSET
    if period == "D":
        return days
    hours = days * 24 + time.dt.hour().cast(nw.Int64)
    return hours if period == "h" else hours * 60 + time.dt.minute().cast(nw.Int64)


def _days(year: Any, month: Any, day: Any) -> Any:
    """Days since 1970-01-01 of a civil date (H. Hinnant's ``days_from_civil``), in arithmetic."""
    early = month <= 2
    year = year - nw.when(early).then(1).otherwise(0)
    era = year // 400
    of_era = year - era * 400
    shifted = month + nw.when(early).then(9).otherwise(-3)
    of_year = (153 * shifted + 2) // 5 + day - 1
    of_era_days = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    return era * 146097 + of_era_days - 719468


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
