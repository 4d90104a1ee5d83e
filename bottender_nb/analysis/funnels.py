"""Funnels: how many conversations reached each step of a flow, in order.

A session reaches step 0 at its first turn whose state matches step 0's condition, and step k
at its first turn, at or after the turn where it reached step k-1, whose state matches step k.
So a session that skips a step stops there, and one turn may reach several steps at once.
Each step is a filter, a join with the step before and a group-by, on whatever engine holds the turns.
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
from .turns_contract import Turns, equals, share, state_column, state_fields, wrap

Condition = Union[Mapping[str, Any], nw.Expr, Callable[[Any], Any]]
_SCALARS = (str, int, float, bool, np.generic, datetime, timedelta, type(None))
_MATCH = "__step_%d"


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
    frame = wrapped.frame.with_columns(*_matches(wrapped, steps))
    frame = frame.select("session_id", "turn", *(_MATCH % index for index in range(len(steps))))
    reached = None
    counts = []
    for index, (name, _) in enumerate(steps):
        candidates = frame.filter(nw.col(_MATCH % index))
        if reached is not None:
            candidates = candidates.join(reached, on="session_id").filter(nw.col("turn") >= nw.col("at"))
        reached = candidates.group_by("session_id").agg(nw.col("turn").min().alias("at"))
        counts.append(reached.select(nw.len().alias("sessions")).with_columns(
            nw.lit(index).alias("index"), nw.lit(str(name)).alias("step")))
    return wrapped.native(_shares(nw.concat(counts)))


def _shares(counts: Any) -> Any:
    """Each step's count with its share of step 0's and of the step before's."""
    start = counts.filter(nw.col("index") == 0).select(nw.col("sessions").alias("start"))
    before = counts.select((nw.col("index") + 1).alias("index"), nw.col("sessions").alias("previous"))
    table = counts.join(start, how="cross").join(before, on="index", how="left")
    previous = nw.col("previous").fill_null(nw.col("sessions"))
    return table.sort("index").select(
        "step", nw.col("sessions").cast(nw.Int64),
        share(nw.col("sessions"), nw.col("start")).alias("share_of_start"),
        share(nw.col("sessions"), previous).alias("share_of_previous"),
    )


def _matches(turns: Turns, steps: list[tuple[str, Condition]]) -> list[Any]:
    """One boolean column per step: does the state after the turn meet the step's condition?"""
    state = None
    columns = []
    for index, (name, condition) in enumerate(steps):
        if isinstance(condition, Mapping):
            match = _mapping_matches(turns, condition)
        elif isinstance(condition, nw.Expr):
            match = condition
        else:
            state = _state_frame(turns, name) if state is None else state
            match = _called(turns, name, condition, state)
        columns.append(match.alias(_MATCH % index))
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
        elif not callable(condition):
            raise AnalyticsError(
                f"Step {name!r}'s condition must be a mapping of state fields to values or a function "
                f"of the state, not {type(condition).__name__}."
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
    match = nw.lit(True)
    for field, value in condition.items():
        column = state_column(turns, field)
        match = match & (nw.lit(False) if column is None else equals(turns, column, value))
    return match


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
