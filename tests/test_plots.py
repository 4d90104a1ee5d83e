"""Issue 5: plots of a sessions frame (matplotlib, Agg backend, an optional extra)."""

from __future__ import annotations

import sys

import matplotlib
import pandas as pd
import pytest

from bottender_nb import plot_sessions, sessions_frame
from bottender_nb.analysis.plots import activity_bins

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

T0 = 1_578_000_000_000  # epoch ms


def session(index: int, platform: str, minutes_ago: float, **state) -> dict:
    return {"id": f"{platform}:{index}", "platform": platform, "user": {"id": str(index)},
            "_state": state, "lastActivity": T0 - int(minutes_ago * 60_000)}


@pytest.fixture
def frame():
    sessions = [session(i, "console", i * 10, count=i % 3, score=i * 1.25, plan=["free", "pro"][i % 2],
                        tags=["a"] * (i % 2)) for i in range(30)]
    sessions += [session(i, "line", i * 20, count=1, plan="pro") for i in range(10)]
    sessions += [session(1, "telegram", 5)]
    return sessions_frame(sessions)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def saved(ax, tmp_path) -> int:
    path = tmp_path / "plot.png"
    ax.figure.savefig(path)
    return path.stat().st_size


def bar_labels(ax) -> list[str]:
    return [label.get_text() for label in ax.get_xticklabels()]


def test_sessions_per_platform(frame, tmp_path):
    ax = plot_sessions(frame)
    assert [bar.get_height() for bar in ax.patches] == [30, 10, 1]
    assert bar_labels(ax) == ["console", "line", "telegram"]
    assert ax.get_title() == "Sessions per platform" and ax.get_ylabel() == "sessions"
    assert saved(ax, tmp_path) > 1000


def test_sessions_per_platform_stacks_expired(frame, tmp_path):
    frame = frame.assign(expired=frame["last_activity"] < pd.Timestamp(T0 - 100 * 60_000, unit="ms", tz="UTC"))
    ax = plot_sessions(frame, "platform")
    heights = [bar.get_height() for bar in ax.patches]
    assert sum(heights) == 41 and len(heights) == 6
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["live", "expired"]


def test_activity_over_time_picks_a_bin_size(frame, tmp_path):
    ax = plot_sessions(frame, kind="activity")
    assert ax.get_title() == "Sessions by last activity, per hour"  # 41 sessions over ~5 hours
    assert sum(bar.get_height() for bar in ax.patches) == 41
    assert saved(ax, tmp_path) > 1000
    assert activity_bins(pd.Timedelta(days=10))[1] == "day"
    assert activity_bins(pd.Timedelta(days=300))[1] == "week"
    assert activity_bins(pd.Timedelta(days=3000))[1] == "month"


def test_state_field_numbers_as_histogram_or_counts(frame, tmp_path):
    ax = plot_sessions(frame, "state", field="score")
    assert sum(bar.get_height() for bar in ax.patches) == 30  # a histogram of 30 floats
    assert ax.get_xlabel() == "state.score"
    plt.close("all")
    ax = plot_sessions(frame, "state", field="state.count")  # few integer values: one bar each
    assert bar_labels(ax) == ["0", "1", "2"]
    assert [bar.get_height() for bar in ax.patches] == [10, 20, 10]
    assert saved(ax, tmp_path) > 1000


def test_state_field_categories_and_lists(frame, tmp_path):
    ax = plot_sessions(frame, "state", "plan")
    assert dict(zip(bar_labels(ax), (bar.get_height() for bar in ax.patches))) == {"pro": 25, "free": 15}
    plt.close("all")
    ax = plot_sessions(frame, "state", "tags")
    assert sorted(bar_labels(ax)) == ['["a"]', "[]"]


def test_an_axes_can_be_given(frame):
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_sessions(frame, ax=right) is right
    assert not left.patches


def test_empty_frames_still_plot(tmp_path):
    empty = sessions_frame([])
    ax = plot_sessions(empty, "platform")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Sessions per platform", "platform", "sessions")
    assert not ax.patches and bar_labels(ax) == []  # no bar, no platform named
    assert [text.get_text() for text in ax.texts] == ["no sessions"]
    assert saved(ax, tmp_path) > 0
    plt.close("all")
    ax = plot_sessions(empty, "activity")
    assert ax.get_title() == "Sessions by last activity"
    assert not ax.patches and bar_labels(ax) == []
    assert [text.get_text() for text in ax.texts] == ["no sessions"]
    assert saved(ax, tmp_path) > 0


def test_bad_arguments_say_what_to_pass(frame):
    with pytest.raises(ValueError, match="kind must be one of"):
        plot_sessions(frame, "pie")
    with pytest.raises(ValueError, match="needs field=.*count"):
        plot_sessions(frame, "state")
    with pytest.raises(KeyError, match="No state field 'nope'.*plan"):
        plot_sessions(frame, "state", "nope")


def test_without_matplotlib_the_error_names_the_extra(frame, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "bottender-nb\[plot\]"'):
        plot_sessions(frame)
