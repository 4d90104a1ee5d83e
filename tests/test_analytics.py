"""Issue 16: funnel, retention, transitions and drop_off over a turns frame, with known answers.

Every expected figure is worked out by hand from the frame drawn in ``analytics_turns.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics_turns import D0, at, empty, hand_built
from bottender_nb import AnalyticsError, BottenderNbError, drop_off, funnel, retention, transitions

FLOW = [("name", {"step": "asked_name"}), ("city", {"step": "asked_city"}), ("done", {"step": "done"})]


@pytest.fixture
def turns() -> pd.DataFrame:
    return hand_built()


def shuffled(turns: pd.DataFrame) -> pd.DataFrame:
    """The same turns in another row order, with an index that is not 0..n-1."""
    return turns.sample(frac=1, random_state=3).set_axis(np.arange(len(turns)) * 7 + 100)


def records(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if value is None or (isinstance(value, float) and math.isnan(value)) else value
                  for value in row) for row in frame.itertuples(index=False)]


# -- funnel ---------------------------------------------------------------------------


def test_funnel_counts_sessions_that_reach_each_step_in_order(turns):
    # name: all 6 sessions have an asked_name turn (e's comes at its turn 1).
    # city: a, b and f at their turn 1; e at turn 2 (its turn-0 asked_city came before the name step);
    #       c skips it (name -> done), d has one turn -> 4.
    # done: a and e (after their city step); c's done does not count, it never reached city -> 2.
    result = funnel(turns, FLOW)
    assert list(result.columns) == ["step", "sessions", "share_of_start", "share_of_previous"]
    assert result["step"].tolist() == ["name", "city", "done"]
    assert result["sessions"].tolist() == [6, 4, 2]
    assert result["share_of_start"].tolist() == pytest.approx([1, 4 / 6, 2 / 6])
    assert result["share_of_previous"].tolist() == pytest.approx([1, 4 / 6, 2 / 4])
    pd.testing.assert_frame_equal(funnel(shuffled(turns), FLOW), result)


def test_a_session_that_skips_a_step_stops_there(turns):
    # the done step alone: a, c and e; after the city step only a and e
    assert funnel(turns, [("done", {"step": "done"})])["sessions"].tolist() == [3]
    line_c = turns[turns["session_id"] == "line:c"]
    assert funnel(line_c, FLOW)["sessions"].tolist() == [1, 0, 0]


def test_one_turn_can_reach_several_steps(turns):
    # {} matches every turn: 6 sessions start; the name step is then reached at the same turn or later
    name = {"step": "asked_name"}
    result = funnel(turns, [("started", {}), ("name", name), ("named again", name)])
    assert result["sessions"].tolist() == [6, 6, 6]


def test_a_flow_longer_than_one_code_of_steps(turns):
    # seven steps any turn meets, then done twice: all 6 sessions start at their turn 0 and reach
    # the seven at once; a, c and e reach done (and done again, at the same turn)
    steps = [*((f"any {index}", {}) for index in range(7)), ("done", {"step": "done"}), ("done again", {"step": "done"})]
    result = funnel(turns, steps)
    assert result["sessions"].tolist() == [6] * 7 + [3, 3]
    pd.testing.assert_frame_equal(funnel(shuffled(turns), steps), result)


def test_conditions_on_nested_fields_several_fields_and_missing_values(turns):
    # profile.city == Paris: a and e (at their turn 2); Lyon: c
    assert funnel(turns, [("paris", {"profile.city": "Paris"})])["sessions"].tolist() == [2]
    # both fields at one turn: done in Paris is a (turn 3) and e (turn 3); done in Lyon is c
    both = funnel(turns, [("done in Lyon", {"state.step": "done", "state.profile.city": "Lyon"})])
    assert both["sessions"].tolist() == [1]
    # None matches an unset value: every session starts without a city
    assert funnel(turns, [("no city yet", {"profile.city": None})])["sessions"].tolist() == [6]
    # numbers compare as numbers; a value of another kind matches nothing
    assert funnel(turns, [("4th", {"count": 4}), ("x", {"step": 4})])["sessions"].tolist() == [2, 0]


def test_a_function_step_receives_the_state_of_every_turn(turns):
    # count >= 3 at some turn: a and e (f's count goes 1, 2, 1) -> 2; then Paris at or after: a and e
    result = funnel(turns, [("3+ messages", lambda state: state["count"] >= 3),
                            ("paris", lambda state: state["profile.city"].eq("Paris").to_numpy())])
    assert result["sessions"].tolist() == [2, 2]
    assert result["share_of_previous"].tolist() == [1.0, 1.0]


def test_funnel_of_one_session_and_of_no_turns(turns):
    only_f = turns[turns["session_id"] == "console:f"]
    assert funnel(only_f, FLOW)["sessions"].tolist() == [1, 1, 0]  # f never got to done
    result = funnel(empty(), FLOW)
    assert result["sessions"].tolist() == [0, 0, 0]
    assert result[["share_of_start", "share_of_previous"]].isna().all().all()  # no share of nothing


@pytest.mark.parametrize(("steps", "message"), [
    ({"step": "done"}, r"steps must be a non-empty list of \(name, condition\) pairs"),
    ([], "steps must be a non-empty list"),
    ([("name", {"step": "asked_name"}), "done"], r"Step 1 must be a \(name, condition\) pair, not 'done'"),
    ([("name", "asked_name")], "Step 'name''s condition must be a mapping .* or a function .*, not str"),
    ([("city", {"town": "Paris"})],
     "No state field 'town' in this turns frame; its state fields: step, count, profile.city"),
    ([("tags", {"step": ["a", "b"]})],
     "Step 'tags' compares 'step' with a list; .* use a function of the state"),
    ([("typo", lambda state: state["cuont"] > 1)],
     "Step 'typo''s condition raised KeyError: 'cuont'; .* columns: step, count, profile.city"),
    ([("short", lambda state: [True, False])],
     r"Step 'short''s condition must return one boolean per turn \(16 here\)"),
    ([("text", lambda state: state["step"])], "must return one boolean per turn .* not Series of str"),
])
def test_bad_steps_say_what_to_pass(turns, steps, message):
    with pytest.raises(AnalyticsError, match=message):
        funnel(turns, steps)


# -- retention ------------------------------------------------------------------------


def test_retention_by_day(turns):
    # cohorts by the day of the first turn: D0 {a, b}; D1 {c, d, e}; D2 {f}; the last turn is on D2.
    # D0: a comes back on D1 and D2 (1 of 2 each day); D1: e comes back on D2 (1 of 3), D1+2 not seen yet
    result = retention(turns)
    assert [str(cohort) for cohort in result.index] == ["2026-01-05", "2026-01-06", "2026-01-07"]
    assert list(result.columns) == [0, 1, 2]
    assert result.index.name == "cohort" and result.columns.name == "periods since"
    expected = [[1, 1 / 2, 1 / 2], [1, 1 / 3, np.nan], [1, np.nan, np.nan]]
    np.testing.assert_allclose(result.to_numpy(), expected)
    assert result.attrs["cohort_sizes"] == [2, 3, 1]
    pd.testing.assert_frame_equal(retention(shuffled(turns)), result)


def test_retention_by_week_and_by_hour(turns):
    weekly = retention(turns, period="W")  # Monday to Wednesday: one weekly cohort, all active in it
    assert [str(cohort) for cohort in weekly.index] == ["2026-01-05/2026-01-11"]
    assert weekly.to_numpy().tolist() == [[1.0]] and weekly.attrs["cohort_sizes"] == [6]
    hourly = retention(turns, period="h")  # 09:00 D0 to 11:00 D2: 51 hours since the first cohort
    assert hourly.shape[1] == 51 and hourly.attrs["cohort_sizes"] == [1, 1, 1, 1, 1, 1]
    assert hourly.loc[pd.Period("2026-01-05 09:00", "h"), 24] == 1.0  # a's turn at D1 09:00


def test_retention_periods_follow_the_time_zone_of_the_time_column(turns):
    # in Tokyo (+9 h) d's first turn (D1 20:00 UTC) is on D2, and c, e start on D1: cohorts of 2, 2, 2
    tokyo = turns.assign(time=turns["time"].dt.tz_convert("Asia/Tokyo"))
    result = retention(tokyo)
    assert result.attrs["cohort_sizes"] == [2, 2, 2]
    np.testing.assert_allclose(result.to_numpy(), [[1, 1 / 2, 1 / 2], [1, 1 / 2, np.nan], [1, np.nan, np.nan]])


def test_retention_of_one_session_and_of_no_turns(turns):
    result = retention(turns[turns["session_id"] == "console:a"])  # turns on D0, D1, D2
    assert result.to_numpy().tolist() == [[1.0, 1.0, 1.0]]
    assert retention(empty()).empty


def test_retention_counts_a_session_once_a_period_whatever_the_order_of_its_times(turns):
    # a goes back to D0 at its turn 2 (times D0, D1, D0, D2); b has a turn with no time between two
    # on D0. One cohort, D0 {a, b}: both active on D0 (once each), a alone on D1 and D2
    a = turns[turns["session_id"] == "console:a"]
    a = a.assign(time=[at(0, "09:00"), at(1, "09:00"), at(0, "10:00"), at(2, "09:00")])
    b = turns[turns["session_id"] == "console:b"]
    b = pd.concat([b, b.iloc[[1]].assign(turn=2)], ignore_index=True)
    b = b.assign(time=[at(0, "12:00"), pd.NaT, at(0, "12:10")])
    both = pd.concat([a, b], ignore_index=True).astype({"time": "datetime64[ns, UTC]"})
    result = retention(both)
    assert result.to_numpy().tolist() == [[1.0, 0.5, 0.5]] and result.attrs["cohort_sizes"] == [2]
    pd.testing.assert_frame_equal(retention(shuffled(both)), result)
    alone = retention(b.astype({"time": "datetime64[ns, UTC]"}))
    assert alone.to_numpy().tolist() == [[1.0]] and alone.attrs["cohort_sizes"] == [1]


def test_retention_needs_a_pandas_period(turns):
    with pytest.raises(AnalyticsError, match="period 'fortnight' is not a pandas period; use 'D'"):
        retention(turns, "fortnight")


# -- transitions ----------------------------------------------------------------------


def test_transitions_count_changes_between_consecutive_turns(turns):
    # a: name->city, city->done (city->city is no change); b: name->city; c: name->done; d: none;
    # e: city->name, name->city, city->done; f: name->city, city->name (a rewind counts)
    result = transitions(turns, "step")
    assert list(result.columns) == ["from", "to", "count", "share"]
    assert records(result) == [
        ("asked_name", "asked_city", 4, 0.8),   # 4 of the 5 changes out of asked_name
        ("asked_city", "asked_name", 2, 0.5),   # ties: sorted by value (asked_name before done)
        ("asked_city", "done", 2, 0.5),
        ("asked_name", "done", 1, 0.2),
    ]
    assert result.attrs["field"] == "step"
    pd.testing.assert_frame_equal(transitions(shuffled(turns), "state.step"), result)


def test_transitions_with_stays(turns):
    # a's asked_city -> asked_city counts too: 5 transitions out of asked_city
    result = transitions(turns, "step", stays=True)
    assert records(result) == [
        ("asked_name", "asked_city", 4, 0.8),
        ("asked_city", "asked_name", 2, 0.4),
        ("asked_city", "done", 2, 0.4),
        ("asked_city", "asked_city", 1, 0.2),
        ("asked_name", "done", 1, 0.2),
    ]


def test_transitions_from_an_unset_value_and_on_small_frames(turns):
    # profile.city is set once in a (Paris), c (Lyon), e (Paris), never changed afterwards
    assert records(transitions(turns, "profile.city")) == [(None, "Paris", 2, 2 / 3), (None, "Lyon", 1, 1 / 3)]
    assert transitions(turns[turns["session_id"] == "telegram:d"], "step").empty  # one turn
    assert transitions(empty(), "step").empty


def test_transitions_of_an_unknown_or_unhashable_field(turns):
    with pytest.raises(AnalyticsError, match="No state field 'stage'.*its state fields: step, count"):
        transitions(turns, "stage")
    with_tags = turns.assign(**{"state.tags": [["a"]] * len(turns)})
    with pytest.raises(AnalyticsError, match="State field 'tags' holds lists or objects"):
        transitions(with_tags, "tags")


# -- drop_off -------------------------------------------------------------------------


def test_drop_off_counts_where_quiet_sessions_ended(turns):
    # now = the latest turn, D2 11:02. Quiet for over an hour: a (done, since D2 09:00),
    # b (asked_city, D0), c (done, D1), d (asked_name, D1). e (D2 10:05, 57 min) and f are not.
    result = drop_off(turns, "step", "1h")
    assert list(result.columns) == ["step", "sessions", "share"]
    assert records(result) == [("done", 2, 0.5), ("asked_city", 1, 0.25), ("asked_name", 1, 0.25)]
    assert result.attrs == {"sessions": 6, "dropped_off": 4}
    pd.testing.assert_frame_equal(drop_off(shuffled(turns), "state.step", pd.Timedelta(hours=1)), result)


def test_drop_off_is_strictly_longer_than_idle(turns):
    assert drop_off(turns, "step", "57min").attrs["dropped_off"] == 4  # e: exactly 57 minutes
    assert drop_off(turns, "step", "56min").attrs["dropped_off"] == 5


def test_drop_off_by_default_runs_to_the_latest_last_turn(turns):
    # f's last turn (turn 2) moved back to D2 10:30, before its turn 1 (11:01): now is 10:30, the
    # latest last turn, not 11:01. Over 31 min: a, b, c, d, not e (10:05, 25 min); from 11:01 e
    # would be (56 min). Over 20 min: e too
    moved = turns.copy()
    moved.loc[(moved["session_id"] == "console:f") & (moved["turn"] == 2), "time"] = at(2, "10:30")
    assert drop_off(moved, "step", "31min").attrs == {"sessions": 6, "dropped_off": 4}
    assert drop_off(moved, "step", "20min").attrs["dropped_off"] == 5


def test_drop_off_at_a_given_time(turns):
    # at D2 12:00, e (1 h 55) is quiet too; f (58 min) is not
    expected = [("done", 3, 0.6), ("asked_city", 1, 0.2), ("asked_name", 1, 0.2)]
    assert records(drop_off(turns, "step", "1h", now=at(2, "12:00"))) == expected
    assert records(drop_off(turns, "step", "1h", now=at(2, "12:00").timestamp())) == expected  # epoch seconds
    assert records(drop_off(turns, "step", "1h", now="2026-01-07 12:00")) == expected  # naive: UTC
    assert drop_off(turns, "step", "1h", now=D0).empty  # nothing is quiet before it happened


def test_drop_off_of_a_nested_field_with_unset_values(turns):
    # last city of a: Paris; b: unset; c: Lyon; d: unset
    expected = [(None, 2, 0.5), ("Lyon", 1, 0.25), ("Paris", 1, 0.25)]
    assert records(drop_off(turns, "profile.city", "1h")) == expected
    assert drop_off(empty(), "step", "1h").empty


@pytest.mark.parametrize(("arguments", "message"), [
    (("step", 30), "idle must be a positive duration such as '30min'.*not 30"),
    (("step", "soon"), "idle must be a positive duration .* not 'soon'"),
    (("step", "-5min"), "idle must be a positive duration"),
    (("place", "1h"), "No state field 'place'"),
])
def test_drop_off_bad_arguments(turns, arguments, message):
    with pytest.raises(AnalyticsError, match=message):
        drop_off(turns, *arguments)
    with pytest.raises(AnalyticsError, match="now must be a time .* not 'tomorrow-ish'"):
        drop_off(turns, "step", "1h", now="tomorrow-ish")


# -- every function: the turns frame contract -----------------------------------------


CALLS = {
    "funnel": lambda turns: funnel(turns, FLOW),
    "retention": lambda turns: retention(turns),
    "transitions": lambda turns: transitions(turns, "step"),
    "drop_off": lambda turns: drop_off(turns, "step", "1h"),
}


@pytest.mark.parametrize("name", CALLS)
def test_a_frame_without_a_needed_column_is_named(turns, name):
    missing = "time" if name in ("retention", "drop_off") else "turn"
    message = f"This turns frame has no '{missing}' column; pass the DataFrame turns_frame"
    with pytest.raises(AnalyticsError, match=message):
        CALLS[name](turns.drop(columns=missing))
    with pytest.raises(AnalyticsError, match="turns must be a data frame .pandas, Polars, DuckDB, PyArrow, Dask., not list"):
        CALLS[name](turns.to_dict("records"))


@pytest.mark.parametrize("name", CALLS)
def test_extra_columns_and_naive_times_are_fine(turns, name):
    extra = turns.assign(score=1.5, note="x", time=turns["time"].dt.tz_localize(None))
    answer, plain = CALLS[name](extra), CALLS[name](turns)
    assert len(plain) > 0  # an answer with rows to compare, not two empty frames
    assert answer.equals(plain), f"{name}: extra columns changed the answer:\n{answer}\n{plain}"


def test_errors_belong_to_the_package_tree(turns):
    with pytest.raises(BottenderNbError) as caught:
        retention(turns.assign(time="yesterday"))
    assert isinstance(caught.value, ValueError)
    assert "pd.to_datetime(turns['time'], utc=True)" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_nullable_columns_as_turns_frame_types_them(turns):
    # state.vip: a boolean with gaps (pandas "boolean"), state.level: ints with gaps ("Int64"), as
    # sessions_frame / turns_frame type them. vip is True on a's turns 2 and 3 and e's turn 3.
    vip = [None, None, True, True] + [False] * 2 + [None] * 3 + [None, False, None, True] + [None] * 3
    level = pd.array([None, 1, 2, 2] + [None] * 12, dtype="Int64")
    typed = turns.assign(**{"state.vip": pd.array(vip, dtype="boolean"), "state.level": level})
    assert funnel(typed, [("vip", {"vip": True}), ("level 2", {"level": 2})])["sessions"].tolist() == [2, 1]
    # a: None -> 1 -> 2 (the NA level of every other session never changes); a tie, in value
    # order, a missing value last
    assert records(transitions(typed, "level")) == [(1, 2, 1, 1.0), (None, 1, 1, 1.0)]
    # last vip of a (True), b (False), c (None), d (None) among the quiet ones
    assert records(drop_off(typed, "vip", "1h")) == [(None, 2, 0.5), (False, 1, 0.25), (True, 1, 0.25)]
