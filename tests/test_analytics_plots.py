"""Issue 16: plot_funnel, plot_retention, plot_transitions (matplotlib, Agg backend).

The figures for the hand-built frame of ``analytics_turns.py``; the numbers drawn are the known
answers of test_analytics.py.
"""

from __future__ import annotations

import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analytics_turns import empty, hand_built
from bottender_nb import (AnalyticsError, funnel, plot_funnel, plot_retention, plot_transitions, retention,
                          transitions)
from bottender_nb.analysis.turn_plots import MAX_VALUES, percent

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FLOW = [("name", {"step": "asked_name"}), ("city", {"step": "asked_city"}), ("done", {"step": "done"})]


@pytest.fixture
def turns() -> pd.DataFrame:
    return hand_built()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def rendered(figure: Figure, tmp_path) -> int:
    path = tmp_path / "plot.png"
    figure.savefig(path)
    return path.stat().st_size


def texts(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


def ticks(labels) -> list[str]:
    return [label.get_text() for label in labels]


def cells(ax) -> list[list[float | None]]:
    """The values of the heatmap's cells, row by row; None for a blank (masked) cell."""
    [image] = ax.images
    return [[None if value is np.ma.masked else pytest.approx(float(value)) for value in row]
            for row in image.get_array()]


def test_percent_labels():
    assert [percent(share) for share in (1.0, 0.5, 2 / 3, 1 / 3, 0.0, 0.1234, np.nan)] == [
        "100%", "50%", "66.7%", "33.3%", "0%", "12.3%", "–"]


def test_plot_funnel(turns, tmp_path):
    figure = plot_funnel(funnel(turns, FLOW))
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert ax.get_title() == "Funnel: sessions that reached each step"
    assert ax.get_xlabel() == "sessions" and ax.get_ylabel() == "step"
    assert ticks(ax.get_yticklabels()) == ["name", "city", "done"]
    assert [bar.get_width() for bar in ax.patches] == [6, 4, 2]
    assert texts(ax) == ["6 · 100% of start", "4 · 66.7% of start · 66.7% of previous",
                         "2 · 33.3% of start · 50% of previous"]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # the first step on top
    assert rendered(figure, tmp_path) > 5000


def test_plot_retention(turns, tmp_path):
    figure = plot_retention(retention(turns))
    ax, colour_bar = figure.axes
    assert ax.get_title() == "Retention: share of each cohort active, per day"
    assert ax.get_xlabel() == "days since first turn"
    assert ax.get_ylabel() == "cohort: day of first turn (sessions)"
    assert ticks(ax.get_yticklabels()) == ["2026-01-05 (2)", "2026-01-06 (3)", "2026-01-07 (1)"]
    assert ticks(ax.get_xticklabels()) == ["0", "1", "2"]
    # row by row; the cells not observed yet stay empty
    assert texts(ax) == ["100%", "50%", "50%", "100%", "33.3%", "100%"]
    # the coloured cells carry the same shares; the ones not observed yet are blank (masked)
    assert cells(ax) == [[1.0, 0.5, 0.5], [1.0, 1 / 3, None], [1.0, None, None]]
    figure.canvas.draw()
    assert colour_bar.get_ylabel() == "share"
    assert ticks(colour_bar.get_yticklabels())[-1] == "100%"
    assert rendered(figure, tmp_path) > 5000


def test_plot_retention_by_week_names_weeks(turns):
    ax = plot_retention(retention(turns, "W")).axes[0]
    assert ax.get_xlabel() == "weeks since first turn"
    assert ticks(ax.get_yticklabels()) == ["week of 2026-01-05 (6)"]


def test_plot_transitions(turns, tmp_path):
    figure = plot_transitions(transitions(turns, "step"))
    ax = figure.axes[0]
    assert ax.get_title() == "Transitions of step, from each row's value"
    assert ax.get_xlabel() == "to" and ax.get_ylabel() == "from"
    # values by how busy they are: asked_city (4 out, 4 in), asked_name (5 out, 2 in), done (3 in)
    assert ticks(ax.get_yticklabels()) == ["asked_city", "asked_name", "done"]
    assert ticks(ax.get_xticklabels()) == ["asked_city", "asked_name", "done"]
    # row asked_city: -> asked_name 2 of 4, -> done 2 of 4; row asked_name: -> asked_city 4 of 5, -> done 1 of 5
    assert texts(ax) == ["50%\n(2)", "50%\n(2)", "80%\n(4)", "20%\n(1)"]
    assert cells(ax) == [[None, 0.5, 0.5], [0.8, None, 0.2], [None, None, None]]
    assert rendered(figure, tmp_path) > 5000


def test_plot_transitions_labels_unset_values_and_groups_rare_ones(turns):
    ax = plot_transitions(transitions(turns, "profile.city")).axes[0]
    assert "(not set)" in ticks(ax.get_yticklabels())
    plt.close("all")
    many = pd.DataFrame({"from": [f"v{i}" for i in range(30)], "to": [f"v{i + 1}" for i in range(30)],
                         "count": np.arange(30, 0, -1), "share": 1.0})
    ax = plot_transitions(many).axes[0]
    labels = ticks(ax.get_xticklabels())
    assert len(labels) == MAX_VALUES and labels[-1] == "other"
    assert sum(int(text.split("(")[1].rstrip(")")) for text in texts(ax)) == sum(range(1, 31))


def test_plots_of_nothing_still_render(tmp_path):
    figure = plot_funnel(funnel(empty(), FLOW))
    ax = figure.axes[0]
    assert ticks(ax.get_yticklabels()) == ["name", "city", "done"]
    assert [bar.get_width() for bar in ax.patches] == [0, 0, 0]
    assert texts(ax) == ["0 · – of start", "0 · – of start · – of previous",
                         "0 · – of start · – of previous"]
    assert rendered(figure, tmp_path) > 0
    for figure in (plot_retention(retention(empty())), plot_transitions(transitions(empty(), "step"))):
        ax = figure.axes[0]
        assert texts(ax) == ["no turns"] and not ax.images and not ax.patches
        assert ticks(ax.get_xticklabels()) == [] and ticks(ax.get_yticklabels()) == []
        assert rendered(figure, tmp_path) > 0


def test_an_axes_can_be_given(turns):
    figure, (left, right) = plt.subplots(1, 2)
    assert plot_funnel(funnel(turns, FLOW), ax=right) is figure
    assert not left.patches and len(right.patches) == 3


def test_a_plot_of_the_wrong_frame_says_which_to_pass(turns):
    with pytest.raises(AnalyticsError, match=r"plot_funnel takes the DataFrame funnel\(turns, steps\) returns"):
        plot_funnel(transitions(turns, "step"))
    with pytest.raises(AnalyticsError, match=r"plot_transitions takes the DataFrame transitions\(turns, field"):
        plot_transitions(turns)
    with pytest.raises(AnalyticsError, match=r"plot_retention takes retention\(turns, period\)'s result"):
        plot_retention(funnel(turns, FLOW))


def test_without_matplotlib_the_error_names_the_extra(turns, monkeypatch):
    result = funnel(turns, FLOW)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "bottender-nb\[plot\]"'):
        plot_funnel(result)


# -- issue 23: any engine's result draws the same figure ---------------------------------


def drawn(ax) -> dict:
    """What a reader sees on Axes: title, axis labels, ticks, bar widths, texts in the plot."""
    return {"title": ax.get_title(), "x": ax.get_xlabel(), "y": ax.get_ylabel(),
            "xticks": ticks(ax.get_xticklabels()), "yticks": ticks(ax.get_yticklabels()),
            "bars": [bar.get_width() for bar in ax.patches], "texts": texts(ax),
            "cells": [heatmap_cells(image.get_array()) for image in ax.images]}


def heatmap_cells(shares: np.ma.MaskedArray) -> list[list]:
    """A heatmap's shares, rounded (engines may differ in the last bit), empty cells as None."""
    return [[None if value is np.ma.masked else round(float(value), 9) for value in row] for row in shares]


def other_engines(turns: pd.DataFrame) -> dict:
    import duckdb
    import polars as pl
    import pyarrow as pa

    table = pa.Table.from_pandas(turns, preserve_index=False)
    return {"polars lazy": pl.from_arrow(table).lazy(), "duckdb": duckdb.from_arrow(table)}


@pytest.mark.parametrize("plot", ["funnel", "retention", "retention W", "transitions"])
def test_any_engine_draws_the_pandas_figure(turns, plot):
    draw = {
        "funnel": lambda frame: plot_funnel(funnel(frame, FLOW)),
        "retention": lambda frame: plot_retention(retention(frame)),
        "retention W": lambda frame: plot_retention(retention(frame, "W"), period="W"),
        "transitions": lambda frame: plot_transitions(transitions(frame, "step"), field="step"),
    }[plot]
    expected = drawn(draw(turns).axes[0])
    assert expected["bars"] or expected["cells"]
    for engine, native in other_engines(turns).items():
        assert drawn(draw(native).axes[0]) == expected, engine
        plt.close("all")


def test_another_engines_transitions_are_titled_without_a_field_unless_given(turns):
    result = other_engines(turns)["duckdb"]
    ax = plot_transitions(transitions(result, "step")).axes[0]
    assert ax.get_title() == "Transitions, from each row's value"


def test_another_engines_retention_with_an_unknown_period_says_which_to_pass(turns):
    cells = retention(other_engines(turns)["duckdb"])
    with pytest.raises(AnalyticsError, match=r"period 'day' is not one retention takes.*'D'"):
        plot_retention(cells, period="day")


def test_something_that_is_no_frame_is_refused():
    with pytest.raises(AnalyticsError, match=r"plot_funnel takes the DataFrame funnel\(turns, steps\) returns"):
        plot_funnel([("name", 6)])
