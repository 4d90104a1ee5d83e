"""Plots of the turn analytics: a funnel, a retention heatmap, a from -> to heatmap.

Each takes the frame its analytics function returns, on whatever engine it ran (pandas,
Polars eager or lazy, DuckDB, PyArrow, Dask), draws something readable with no styling (title,
axis labels, shares as percentages, cells annotated) and returns the Figure. A result is a few
rows (steps, cohorts, pairs of values), so another engine's is collected to pandas through
Narwhals to be drawn. matplotlib is the ``plot`` extra, imported only when a plot is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from ..errors import AnalyticsError, missing_extra
from .retention import PERIODS, retention_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_ANNOTATED = 400
"""A heatmap writes its numbers in its cells up to this many cells; beyond, the colour bar reads."""
MAX_VALUES = 15
"""A transitions heatmap shows at most this many values per axis (the busiest); the rest: "other"."""
NOT_SET = "(not set)"
_LONG_FORM = {"cohort", "periods_since", "cohort_size", "share"}
"""The columns of retention's answer on an engine other than pandas (its cells, one per row)."""
_PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "h": "hour", "min": "minute", "Q": "quarter",
                 "Y": "year"}


def plot_funnel(result: Any, ax: Axes | None = None) -> Figure:
    """Horizontal bars of ``funnel(...)``: sessions per step, labelled with shares of the start
    and of the step before."""
    result = _require(result, "plot_funnel", "funnel(turns, steps)", "step", "sessions", "share_of_start",
                      "share_of_previous")
    ax = _axes(ax, 7.0, 1.2 + 0.55 * len(result))
    names = [str(step) for step in result["step"]]
    ax.barh(names, result["sessions"].to_numpy(), color="tab:blue")
    ax.invert_yaxis()  # the first step on top
    widest = max(int(result["sessions"].max()) if len(result) else 0, 1)
    for row, (sessions, of_start, of_previous) in enumerate(
        result[["sessions", "share_of_start", "share_of_previous"]].itertuples(index=False)
    ):
        label = f"{sessions:,} · {percent(of_start)} of start"
        if row:
            label += f" · {percent(of_previous)} of previous"
        ax.text(sessions + widest * 0.01, row, label, va="center")
    ax.set_xlim(0, widest * 1.6)  # room for the labels
    ax.set(title="Funnel: sessions that reached each step", xlabel="sessions", ylabel="step")
    return ax.figure


def plot_retention(result: Any, ax: Axes | None = None, *, period: str = "D") -> Figure:
    """A cohort heatmap of ``retention(...)``: one row per cohort, one column per period since.

    On pandas the table knows its period. Another engine's answer is the table's cells in long
    form, whose cohorts are bare period numbers: ``period`` says which ``retention`` was given.
    """
    result = _require(result, "plot_retention", "retention(turns, period)")
    if not isinstance(result.index, pd.PeriodIndex) and _LONG_FORM.issubset(result.columns):
        if period not in PERIODS:
            raise AnalyticsError(f"period {period!r} is not one retention takes; pass the one it was given: "
                                 f"{', '.join(map(repr, PERIODS))}.")
        result = retention_table(result, period)
    if not isinstance(result.index, pd.PeriodIndex):
        raise AnalyticsError(
            "plot_retention takes retention(turns, period)'s result, whose index is the cohort periods."
        )
    unit = _PERIOD_NAMES.get(str(result.index.freqstr).split("-")[0], str(result.index.freqstr))
    rows, columns = result.shape
    ax = _axes(ax, 3.0 + 0.6 * columns, 1.6 + 0.4 * rows)
    sizes = result.attrs.get("cohort_sizes")
    labels = [f"week of {cohort.start_time:%Y-%m-%d}" if unit == "week" else str(cohort)
              for cohort in result.index]
    if sizes is not None and len(sizes) == rows:
        labels = [f"{label} ({size:,})" for label, size in zip(labels, sizes)]
    _heatmap(ax, result.to_numpy(dtype=float), labels, [str(c) for c in result.columns], "Blues", None)
    ax.set(
        title=f"Retention: share of each cohort active, per {unit}",
        xlabel=f"{unit}s since first turn", ylabel=f"cohort: {unit} of first turn (sessions)",
    )
    return ax.figure


def plot_transitions(result: Any, ax: Axes | None = None, *, field: str | None = None) -> Figure:
    """A from -> to heatmap of ``transitions(...)``: each cell is the share of the row's
    transitions that went to the column's value, annotated with that share and the count.
    At most ``MAX_VALUES`` values per axis, the busiest first; the rest are "other". The title
    names the field: pandas' answer carries it; for another engine's, pass ``field``."""
    if field is None and isinstance(result, pd.DataFrame):
        field = result.attrs.get("field")
    result = _require(result, "plot_transitions", "transitions(turns, field)", "from", "to", "count")
    counts = _matrix(result)
    rows, columns = counts.shape
    ax = _axes(ax, 3.0 + 1.0 * columns, 1.8 + 0.55 * rows)
    out_of = counts.sum(axis=1).to_numpy(dtype=float)
    share = counts.to_numpy(dtype=float) / np.where(out_of > 0, out_of, np.nan)[:, None]
    share[counts.to_numpy() == 0] = np.nan  # no such transition: an empty cell, not 0 %
    _heatmap(ax, share, list(counts.index), list(counts.columns), "Oranges", counts.to_numpy())
    title = f"Transitions of {field}, from each row's value" if field else "Transitions, from each row's value"
    ax.set(title=title, xlabel="to", ylabel="from")
    return ax.figure


def percent(share: Any) -> str:
    """A share 0-1 as a percentage for a label ("50%", "33.3%"); "–" when there is none (NaN)."""
    if pd.isna(share):
        return "–"
    points = float(share) * 100
    return f"{points:.0f}%" if abs(points - round(points)) < 0.05 else f"{points:.1f}%"


def _matrix(result: pd.DataFrame) -> pd.DataFrame:
    """Counts as a from x to table over the busiest values (labels as text, missing as "(not set)")."""
    frame = pd.DataFrame({
        "from": result["from"].map(_label, na_action=None),
        "to": result["to"].map(_label, na_action=None),
        "count": result["count"].to_numpy(),
    })
    busiest = pd.concat([frame.groupby("from")["count"].sum(), frame.groupby("to")["count"].sum()])
    busiest = busiest.groupby(level=0).sum().sort_values(ascending=False, kind="stable")
    if len(busiest) > MAX_VALUES:
        kept = set(busiest.index[: MAX_VALUES - 1])
        frame["from"] = frame["from"].where(frame["from"].isin(kept), "other")
        frame["to"] = frame["to"].where(frame["to"].isin(kept), "other")
    table = frame.pivot_table(index="from", columns="to", values="count", aggfunc="sum", fill_value=0)
    order = [value for value in [*busiest.index, "other"] if value in table.index or value in table.columns]
    return table.reindex(index=order, columns=order, fill_value=0)


def _label(value: Any) -> str:
    return NOT_SET if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)


def _heatmap(ax: Axes, shares: np.ndarray, rows: list[str], columns: list[str], colours: str,
             counts: np.ndarray | None) -> None:
    if not shares.size:
        ax.text(0.5, 0.5, "no turns", transform=ax.transAxes, ha="center", va="center")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    from matplotlib.ticker import PercentFormatter

    image = ax.imshow(np.ma.masked_invalid(shares), cmap=colours, vmin=0, vmax=1, aspect="auto")
    ax.figure.colorbar(image, ax=ax, format=PercentFormatter(1.0), label="share")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    if len(columns) > 8:
        for label in ax.get_xticklabels():
            label.set(rotation=30, horizontalalignment="right")
    if shares.size <= MAX_ANNOTATED:
        _annotate(ax, shares, counts)


def _annotate(ax: Axes, shares: np.ndarray, counts: np.ndarray | None) -> None:
    """Each cell's share (and count) written in it, white on the dark cells."""
    for (row, column), share in np.ndenumerate(shares):
        if np.isnan(share):
            continue
        text = percent(share) if counts is None else f"{percent(share)}\n({counts[row, column]:,})"
        ax.text(column, row, text, ha="center", va="center", fontsize=8,
                color="white" if share > 0.6 else "black")


def _require(result: Any, plot: str, source: str, *columns: str) -> pd.DataFrame:
    """``result`` as pandas (another engine's collected through Narwhals), if it has ``columns``."""
    frame = result if isinstance(result, pd.DataFrame) else _collected(result)
    if frame is None or any(column not in frame.columns for column in columns):
        raise AnalyticsError(
            f"{plot} takes the DataFrame {source} returns; this is not one "
            f"(it needs the columns {', '.join(columns)})."
        )
    return frame


def _collected(result: Any) -> pd.DataFrame | None:
    """Any engine's frame as pandas; ``None`` for something that is no frame."""
    try:
        frame = nw.from_native(result)
    except TypeError:
        return None
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas() if isinstance(frame, nw.DataFrame) else None


def _axes(ax: Axes | None, width: float, height: float) -> Axes:
    """``ax``, or new Axes of about ``width`` x ``height`` inches (kept between a readable
    minimum and a size that fits a notebook)."""
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise missing_extra("matplotlib", "plot") from exc
    size = (min(max(width, 6.4), 10.0), min(max(height, 2.4), 7.0))
    return plt.subplots(figsize=size, layout="constrained")[1]
