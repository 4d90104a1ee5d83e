"""Retention cohorts: of the sessions that started in a period, how many came back later.

Sessions are grouped by the calendar period (day, week, month ...) of their first turn; a
cohort's row holds, for each period since, the share of its sessions with a turn in that
period. Periods are counted as integers (pandas period ordinals), so the whole table is a few
array operations over all turns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AnalyticsError
from .turns_contract import check_frame, shares, turn_times

MAX_CELLS = 5_000_000
"""A retention table holds at most this many cells (cohorts x periods since)."""


def retention(turns: pd.DataFrame, period: str = "D") -> pd.DataFrame:
    """Share of each cohort's sessions active in each period since their first turn.

    Index: the cohort (a pandas Period of ``period``, such as ``"D"``, ``"W"``, ``"M"``, ``"h"``);
    columns: periods since (0, 1, 2 ...); values: floats 0-1, NaN for periods after the frame's
    last turn (not yet observed). Column 0 is 1.0: every session has a turn in its first period.
    ``attrs["cohort_sizes"]`` lists the sessions of each cohort. Periods follow the time
    column's time zone (UTC from ``turns_frame``; convert ``turns["time"]`` for local days).
    """
    turns = check_frame(turns, "time")
    _check_period(period)
    times = turn_times(turns)
    known = times.notna().to_numpy()
    if not known.all():  # a turn without a time belongs to no period
        turns, times = turns[known], times[known]
    ordinals = times.dt.tz_localize(None).dt.to_period(period).array.asi8
    codes, uniques = pd.factorize(turns["session_id"], use_na_sentinel=False)
    if not len(ordinals):
        return _table(np.zeros((0, 0)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), period)
    first_period = np.full(len(uniques), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_period, codes, ordinals)
    cohorts, cohort_of_session = np.unique(first_period, return_inverse=True)
    last = int(ordinals.max())
    width = last - int(cohorts[0]) + 1
    _check_size(len(cohorts), width, period)
    since = ordinals - first_period[codes]
    active = pd.unique(codes.astype(np.int64) * width + since)  # each (session, period since) once
    cells = cohort_of_session[active // width] * width + active % width
    active_counts = np.bincount(cells, minlength=len(cohorts) * width).reshape(len(cohorts), width)
    sizes = np.bincount(cohort_of_session, minlength=len(cohorts))
    table = shares(active_counts, sizes[:, None])
    table[cohorts[:, None] + np.arange(width) > last] = np.nan  # not observed yet
    return _table(table, cohorts, sizes, period)


def _check_period(period: object) -> None:
    try:
        pd.PeriodDtype(period)
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(
            f"period {period!r} is not a pandas period; use 'D' (day), 'W' (week), 'M' (month) or 'h' (hour)."
        ) from exc


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
