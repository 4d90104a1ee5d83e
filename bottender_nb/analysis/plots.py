"""Plots of a sessions frame: sessions per platform, activity over time, a state field.

matplotlib is an optional extra (``pip install "bottender-nb[plot]"``); it is imported when
a plot is drawn, never by ``import bottender_nb``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import missing_extra
from .columns import STATE_PREFIX

if TYPE_CHECKING:
    from matplotlib.axes import Axes

KINDS = ("platform", "activity", "state")
MAX_CATEGORIES = 20
"""A bar chart shows at most this many values (the most common); the rest are counted as "other"."""
_BINS = (  # (longest span, resample rule, bin name, bin width) for the activity plot
    (pd.Timedelta(days=2), "h", "hour", pd.Timedelta(hours=1)),
    (pd.Timedelta(days=90), "D", "day", pd.Timedelta(days=1)),
    (pd.Timedelta(days=730), "W", "week", pd.Timedelta(weeks=1)),
)
_MONTHS = ("MS", "month", pd.Timedelta(days=28))


def plot_sessions(
    frame: pd.DataFrame, kind: str = "platform", field: str | None = None, ax: Axes | None = None
) -> Axes:
    """Draw ``kind`` of a :func:`~bottender_nb.analysis.frames.sessions_frame`; the Axes.

    ``"platform"``: sessions per platform (live and expired stacked when known);
    ``"activity"``: sessions by last activity per hour, day, week or month, whichever suits
    the time span; ``"state"``: the distribution of state ``field`` (``"count"`` or
    ``"state.count"``), a histogram for numbers, the most common values otherwise.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}.")
    ax = ax if ax is not None else _new_axes()
    if kind == "platform":
        _per_platform(frame, ax)
    elif kind == "activity":
        _activity(frame, ax)
    else:
        _state_field(frame, _state_column(frame, field), ax)
    return ax


def _new_axes() -> Axes:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise missing_extra("matplotlib", "plot") from exc
    return plt.subplots(figsize=(6.4, 3.6), layout="constrained")[1]


def _per_platform(frame: pd.DataFrame, ax: Axes) -> None:
    counts = frame["platform"].value_counts()
    names = [str(name) for name in counts.index]
    if "expired" in frame.columns:
        expired = frame.loc[frame["expired"].astype(bool), "platform"].value_counts()
        expired = expired.reindex(counts.index, fill_value=0).to_numpy()
        live = counts.to_numpy() - expired
        ax.bar(names, live, label="live")
        ax.bar(names, expired, bottom=live, label="expired")
        ax.legend()
    else:
        ax.bar(names, counts.to_numpy())
    ax.set(title="Sessions per platform", xlabel="platform", ylabel="sessions")
    if counts.empty:
        _say_empty(ax)


def _activity(frame: pd.DataFrame, ax: Axes) -> None:
    times = pd.DatetimeIndex(frame["last_activity"].dropna()).sort_values()
    ax.set(xlabel="last activity (UTC)", ylabel="sessions")
    if times.empty:
        ax.set_title("Sessions by last activity")
        _say_empty(ax)
        return
    rule, name, width = activity_bins(times[-1] - times[0])
    counts = pd.Series(1, index=times).resample(rule).count()
    ax.bar(counts.index.tz_convert(None), counts.to_numpy(), width=width * 0.9, align="edge")
    ax.set_title(f"Sessions by last activity, per {name}")
    ax.xaxis_date()
    for label in ax.get_xticklabels():
        label.set(rotation=30, horizontalalignment="right")


def activity_bins(span: pd.Timedelta) -> tuple[str, str, pd.Timedelta]:
    """The resample rule, bin name and width that give a readable number of bars for ``span``."""
    for longest, rule, name, width in _BINS:
        if span <= longest:
            return rule, name, width
    return _MONTHS


def _state_column(frame: pd.DataFrame, field: str | None) -> str:
    fields = [column[len(STATE_PREFIX):] for column in frame.columns if column.startswith(STATE_PREFIX)]
    if field is None:
        raise ValueError(f"kind='state' needs field=, one of: {', '.join(fields) or '(no state fields)'}.")
    column = field if field.startswith(STATE_PREFIX) else STATE_PREFIX + field
    if column not in frame.columns:
        raise KeyError(f"No state field {field!r} in this frame; its state fields: {', '.join(fields) or 'none'}.")
    return column


def _state_field(frame: pd.DataFrame, column: str, ax: Axes) -> None:
    values = frame[column].dropna()
    ax.set(title=f"{column} across {len(values)} sessions", xlabel=column, ylabel="sessions")
    if values.empty:
        _say_empty(ax)
    elif _is_number(values) and (values.nunique() > MAX_CATEGORIES or not _is_integer(values)):
        ax.hist(values.to_numpy(dtype=float), bins=min(30, max(values.nunique(), 1)))
    else:
        counts = _value_counts(values)
        ax.bar([str(value) for value in counts.index], counts.to_numpy())
        if len(counts) > 6:
            for label in ax.get_xticklabels():
                label.set(rotation=30, horizontalalignment="right")


def _value_counts(values: pd.Series) -> pd.Series:
    """Counts of each value, numbers in order, others most common first; lists compared as JSON."""
    if values.dtype == object:
        values = values.map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v)
    counts = values.value_counts()
    if _is_number(values):
        return counts.sort_index()
    if len(counts) > MAX_CATEGORIES:
        top = counts.iloc[: MAX_CATEGORIES - 1]
        return pd.concat([top, pd.Series({"other": counts.iloc[MAX_CATEGORIES - 1 :].sum()})])
    return counts


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _is_integer(values: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(values) or bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))


def _say_empty(ax: Axes) -> None:
    """Say so, with no tick labels: an empty axis's default 0.0-1.0 would name nothing."""
    ax.text(0.5, 0.5, "no sessions", transform=ax.transAxes, ha="center", va="center")
    ax.set(xticks=[], yticks=[])

