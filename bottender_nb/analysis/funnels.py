"""Funnels: how many conversations reached each step of a flow, in order.

A session reaches step 0 at its first turn whose state matches step 0's condition, and step k
at its first turn, at or after the turn where it reached step k-1, whose state matches step k.
So a session that skips a step stops there, and one turn may reach several steps at once.
With the turns in (session, turn) order and the sessions numbered, a session has reached step
k by a turn when the latest session with a step-k match (after step k-1) so far is itself: one
running maximum per step, on whatever engine holds the turns, with no join and no group-by.
Those maxima run over the few turns that can change a count: of a session's consecutive turns
that meet the same steps, the first (a turn that meets none changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Union

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from ..errors import AnalyticsError
from .columns import STATE_PREFIX
from .turns_input import ORDER, SESSION, START, Turns, equals, share, state_column, state_fields, wrap

Condition = Union[Mapping[str, Any], nw.Expr, Callable[[Any], Any]]
_SCALARS = (str, int, float, bool, np.generic, datetime, timedelta, type(None))
_MATCH, _CODE, _LATEST, _LAST = "__step_%d", "__steps_%d", "__latest_%d", "__last"
_BITS = 7
"""Steps to one code: an Int8 holds seven bits."""


def funnel(turns: Any, steps: Sequence[tuple[str, Condition]]) -> Any:
    """Sessions that reached each step, in order; columns ``step``, ``sessions``,
    ``share_of_start`` and ``share_of_previous`` (floats 0-1, NaN when nothing reached the base).

    ``turns`` is a turns frame on any engine (pandas, Polars, DuckDB, PyArrow, Dask); the result
    is the same kind. ``steps`` is a list of ``(name, condition)``. A condition is either a
    mapping of state fields to values, all of which must match (``{"step": "asked_city"}``;
    nested fields as ``"profile.city"``; ``None`` matches a missing value; ``{}`` matches every
    turn), a Narwhals expression (``nw.col("state.count") >= 3``, on any engine), or, on an
    eager frame, a function that receives the state after every turn as one frame of that kind
    (columns named like the fields, without ``state.``) and returns one boolean per row:
    ``lambda state: state["count"] >= 3``. Every turn counts, whatever its kind (filter
    ``turns[turns.kind == "event"]`` first to leave rewinds and resets out).
    """
    wrapped = wrap(turns)
    steps = _checked_steps(steps)
    frame = wrapped.in_order(*_columns(wrapped, steps))
    ordered = Turns(frame, wrapped.schema, wrapped.pandas)  # a function step sees the rows in this order
    matches = _matches(ordered, steps)
    names = [str(name) for name, _ in steps]
    if not wrapped.ordered_windows:
        matches = [match.alias(_MATCH % index) for index, match in enumerate(matches)]
        return wrapped.native(_table(_counts_by_joins(frame.select(*ORDER, *matches), len(steps)), names))
    codes = [_code(matches[first:first + _BITS]).alias(_CODE % chunk)
             for chunk, first in enumerate(range(0, len(steps), _BITS))]
    frame = wrapped.numbered(frame, *codes, keep=False)
    frame = frame.filter(_deciding(wrapped, len(codes)))
    session = nw.col(SESSION)
    # a session's last turn among these: the steps it had reached by then are all it reaches
    last = (session != wrapped.window(session.shift(-1))).fill_null(True).alias(_LAST)
    latest = session  # before step 0, every session has reached "the start"
    for index in range(len(steps)):
        # the number of the latest session with a hit at a turn where it had reached the step
        # before (which holds the session's own number there, and a lesser one elsewhere)
        hits = _met(index) * latest
        more = [last] if index == 0 else []
        frame = frame.with_columns(wrapped.window(hits.cum_max()).alias(_LATEST % index), *more)
        latest = nw.col(_LATEST % index)
    # a session reached a step when, at its last turn, the latest session to reach it is itself
    reached = [((nw.col(_LATEST % index) == session) & nw.col(_LAST)).sum().alias(str(index))
               for index in range(len(steps))]
    return wrapped.native(_table(frame.select(*reached), names))


def _code(matches: list[Any]) -> Any:
    """An expression: the steps (up to :data:`_BITS`) a turn meets, as the bits of an Int8."""
    code = None
    for bit, match in enumerate(matches):
        term = match.cast(nw.Int8) * (1 << bit) if bit else match.cast(nw.Int8)
        code = term if code is None else code + term
    return code


def _met(index: int) -> Any:
    """An expression: 1 when the turn meets step ``index`` (its bit in the codes), else 0."""
    code, bit = nw.col(_CODE % (index // _BITS)), index % _BITS
    return (code // (1 << bit) if bit else code) % 2


def _deciding(turns: Turns, codes: int) -> Any:
    """An expression: the turn can change a count. One that meets no step cannot, and of a
    session's consecutive turns that meet the same steps only the first can: the steps it
    reaches (one turn may reach several) are all that the ones after it could."""
    met, changed = None, None
    for chunk in range(codes):
        # Float32: pandas shifts integers into float64 (for the missing value); a float holds it
        code = nw.col(_CODE % chunk).cast(nw.Float32)
        differs = (code != turns.window(code.shift(1))).fill_null(True)
        met = code != 0 if met is None else met | (code != 0)
        changed = differs if changed is None else changed | differs
    return met & (nw.col(START) | changed)


def _counts_by_joins(frame: Any, steps: int) -> Any:
    """The counts without ordered windows (Dask): per step, each session's first turn at it, at
    or after the turn where it reached the step before, by a group-by and a join."""
    reached, counts = None, []
    for index in range(steps):
        candidates = frame.filter(nw.col(_MATCH % index)).select("session_id", "turn")
        if reached is not None:
            candidates = candidates.join(reached, on="session_id").filter(nw.col("turn") >= nw.col("at"))
        reached = candidates.group_by("session_id").agg(nw.col("turn").min().alias("at"))
        counts.append(reached.select(nw.len().alias(str(index))))
    table = counts[0]
    for count in counts[1:]:
        table = table.join(count, how="cross")
    return table


def _columns(turns: Turns, steps: list[tuple[str, Condition]]) -> list[str]:
    """The columns the steps read: a mapping's fields; every column for an expression or a function."""
    if not all(isinstance(condition, Mapping) for _, condition in steps):
        return list(turns.schema)
    columns = (state_column(turns, field) for _, condition in steps for field in condition)
    return [column for column in columns if column is not None]


def _table(counts: Any, names: list[str]) -> Any:
    """The funnel, one row per step, from one row of counts (columns ``"0"``, ``"1"`` ...).

    Eager counts are known numbers, so the table is made from them at once; lazy ones stay lazy,
    so a lazy frame's funnel is still a query.
    """
    if not isinstance(counts, nw.LazyFrame):
        sessions = [int(count) for count in counts.row(0)]  # columns "0", "1" ... in step order
        previous = sessions[:1] + sessions[:-1]
        return nw.from_dict({
            "step": names, "sessions": sessions,
            "share_of_start": [part / sessions[0] if sessions[0] else None for part in sessions],
            "share_of_previous": [part / whole if whole else None for part, whole in zip(sessions, previous)],
        }, schema={"step": nw.String(), "sessions": nw.Int64(), "share_of_start": nw.Float64(),
                   "share_of_previous": nw.Float64()}, backend=nw.get_native_namespace(counts))
    # one row per step, each beside the one row of counts, so one partition on Dask. Sorting
    # several partitions (say, one select per step, stacked) makes Dask compute quantiles while
    # it lowers the graph, inside a functools.cached_property: on Python 3.11 that holds a lock
    # the in-process scheduler of a LocalCluster needs: a deadlock. So an unpivot, crossed with
    # the row; but Narwhals (2.29) runs DuckDB's unpivot as SQL on DuckDB's default connection,
    # which cannot see a relation of another (``duckdb.connect(path)``): there, the indices as a
    # list of the row's, exploded (Dask has no explode).
    indices = [str(index) for index in range(len(names))]
    if counts.implementation is nw.Implementation.DUCKDB:
        listed = nw.lit(",".join(indices)).str.split(",").alias("index")
        rows = counts.with_columns(listed).explode("index")
    else:
        rows = counts.unpivot(indices, variable_name="index").select("index").join(counts, how="cross")
    index = nw.col("index")
    step, sessions, previous = nw.lit(names[0]), nw.col("0"), nw.col("0")  # step 0's, then by index
    for position, name in enumerate(names[1:], start=1):
        at = index == str(position)
        step = nw.when(at).then(nw.lit(name)).otherwise(step)
        sessions = nw.when(at).then(nw.col(str(position))).otherwise(sessions)
        previous = nw.when(at).then(nw.col(str(position - 1))).otherwise(previous)
    return rows.select(
        index.cast(nw.Int64), step.alias("step"), sessions.cast(nw.Int64).alias("sessions"),
        share(sessions, nw.col("0")).alias("share_of_start"), share(sessions, previous).alias("share_of_previous"),
    ).sort("index").drop("index")


def _matches(turns: Turns, steps: list[tuple[str, Condition]]) -> list[Any]:
    """One boolean expression (a Series for a function) per step: does the state after the turn
    meet the step's condition?"""
    state = None
    columns = []
    for index, (name, condition) in enumerate(steps):
        if isinstance(condition, Mapping):
            match = _mapping_matches(turns, condition)
        elif isinstance(condition, nw.Expr):
            match = condition.fill_null(False)  # a missing value meets no condition
        else:
            state = _state_frame(turns, name) if state is None else state
            match = _called(turns, name, condition, state)
        columns.append(match)
    return columns


def _checked_steps(steps: Any) -> list[tuple[str, Condition]]:
    if isinstance(steps, (str, Mapping)) or not isinstance(steps, Sequence) or not steps:
        raise AnalyticsError(
            f"steps must be a non-empty list of (name, condition) pairs, such as "
            f"[('asked name', {{'step': 'asked_name'}}), ...], not {steps!r:.80}."
        )
    checked = []
    for index, step in enumerate(steps):
        if not (isinstance(step, (tuple, list)) and len(step) == 2):
            raise AnalyticsError(f"Step {index} must be a (name, condition) pair, not {step!r:.80}.")
        name, condition = step
        if isinstance(condition, Mapping):
            _check_values(name, condition)
        elif not (isinstance(condition, nw.Expr) or callable(condition)):
            raise AnalyticsError(
                f"Step {name!r}'s condition must be a mapping of state fields to values, a Narwhals "
                f"expression or a function of the state, not {type(condition).__name__}."
            )
        checked.append((name, condition))
    return checked


def _check_values(name: Any, condition: Mapping[str, Any]) -> None:
    for field, value in condition.items():
        if not isinstance(value, _SCALARS):
            raise AnalyticsError(
                f"Step {name!r} compares {field!r} with a {type(value).__name__}; a mapping condition "
                "takes strings, numbers, booleans or None; use a function of the state for anything else."
            )


def _mapping_matches(turns: Turns, condition: Mapping[str, Any]) -> Any:
    """An expression: does the state after the turn hold every value of ``condition``?"""
    match = None
    for field, value in condition.items():
        column = state_column(turns, field)
        equal = nw.lit(False) if column is None else equals(turns, column, value)
        match = equal if match is None else match & equal
    return nw.lit(True) if match is None else match


def _state_frame(turns: Turns, name: Any) -> Any:
    """The state after every turn as the caller's kind of eager frame, columns without ``state.``."""
    if turns.lazy:
        raise AnalyticsError(
            f"Step {name!r}'s condition is a function, which needs the turns in memory; on a lazy "
            "frame give a mapping or a Narwhals expression, e.g. nw.col('state.count') >= 3."
        )
    names = state_fields(turns)
    state = turns.frame.select(*(nw.col(STATE_PREFIX + field).alias(field) for field in names)).to_native()
    return state.reset_index(drop=True) if isinstance(state, pd.DataFrame) else state


def _called(turns: Turns, name: Any, condition: Callable[[Any], Any], state: Any) -> Any:
    try:
        result = condition(state)
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        fields = ", ".join(state_fields(turns)) or "none"
        raise AnalyticsError(
            f"Step {name!r}'s condition raised {type(exc).__name__}: {exc}; it receives the state "
            f"after every turn as a DataFrame with the columns: {fields}."
        ) from exc
    mask = _as_mask(name, result, len(state))
    return nw.new_series("mask", mask, nw.Boolean, backend=nw.get_native_namespace(turns.frame))


def _as_mask(name: Any, result: Any, rows: int) -> np.ndarray:
    if isinstance(result, pd.Series):
        index = pd.RangeIndex(rows)
        values = result if result.index.equals(index) else result.reindex(index, fill_value=False)
    elif isinstance(result, nw.Expr) or np.ndim(result) != 1:
        values = None
    else:
        values = pd.Series(np.asarray(result))
    if values is None or len(values) != rows or not pd.api.types.is_bool_dtype(values.dtype):
        got = type(result).__name__ + (f" of {values.dtype}" if values is not None else "")
        raise AnalyticsError(
            f"Step {name!r}'s condition must return one boolean per turn ({rows} here), not {got}; "
            "e.g. lambda state: state['step'] == 'done'."
        )
    return values.to_numpy(dtype=bool, na_value=False)
