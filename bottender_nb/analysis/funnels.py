"""Funnels: how many conversations reached each step of a flow, in order.

A session reaches step 0 at its first turn whose state matches step 0's condition, and step k
at its first turn, at or after the turn where it reached step k-1, whose state matches step k.
So a session that skips a step stops there, and one turn may reach several steps at once.
Each step is one vectorised pass over all turns; no Python code runs per turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Union

import numpy as np
import pandas as pd

from ..errors import AnalyticsError
from .columns import STATE_PREFIX
from .turns_contract import OrderedTurns, check_frame, in_turn_order, shares, state_column, state_fields

Condition = Union[Mapping[str, Any], Callable[[pd.DataFrame], Any]]
_SCALARS = (str, int, float, bool, np.generic, datetime, timedelta, type(None))
_NOT_REACHED = np.iinfo(np.int64).max


def funnel(turns: pd.DataFrame, steps: Sequence[tuple[str, Condition]]) -> pd.DataFrame:
    """Sessions that reached each step, in order; columns ``step``, ``sessions``,
    ``share_of_start`` and ``share_of_previous`` (floats 0-1, NaN when nothing reached the base).

    ``steps`` is a list of ``(name, condition)``. A condition is either a mapping of state
    fields to values, all of which must match (``{"step": "asked_city"}``; nested fields as
    ``"profile.city"``; ``None`` matches a missing value; ``{}`` matches every turn), or a
    function that receives the state after every turn as one DataFrame (columns named like the
    fields, without ``state.``) and returns a boolean Series or array, one value per row:
    ``lambda state: state["count"] >= 3``. Every turn counts, whatever its kind (filter
    ``turns[turns.kind == "event"]`` first to leave rewinds and resets out).
    """
    turns = check_frame(turns)
    steps = _checked_steps(steps)
    ordered = in_turn_order(turns)
    positions = np.arange(len(ordered.codes))
    reached_at = np.full(ordered.sessions, -1, dtype=np.int64)  # before step 0: every session
    state: pd.DataFrame | None = None  # what a function step receives, built once
    counts = []
    for name, condition in steps:
        if isinstance(condition, Mapping):
            match = _mapping_matches(ordered, condition)
        else:
            state = _state_frame(ordered) if state is None else state
            match = _called(name, condition, state)
        match = match & (positions >= reached_at[ordered.codes])
        reached_at = _first_position(ordered, match)
        counts.append(int(np.count_nonzero(reached_at != _NOT_REACHED)))
    sessions = np.array(counts, dtype=np.int64)
    previous = np.r_[sessions[:1], sessions[:-1]]
    return pd.DataFrame({
        "step": [name for name, _ in steps],
        "sessions": sessions,
        "share_of_start": shares(sessions, sessions[0]),
        "share_of_previous": shares(sessions, previous),
    })


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


def _mapping_matches(ordered: OrderedTurns, condition: Mapping[str, Any]) -> np.ndarray:
    """One boolean per turn (in turn order): does the state after it hold every value?"""
    match = np.ones(len(ordered.codes), dtype=bool)
    for field, value in condition.items():
        column = state_column(ordered.frame, field)
        match &= False if column is None else _equals(ordered.column(column), value)
    return match


def _equals(values: pd.Series, value: Any) -> np.ndarray:
    if value is None:
        return values.isna().to_numpy()
    try:
        equal = values == value
    except TypeError:  # e.g. a number compared with a column of another kind
        return np.zeros(len(values), dtype=bool)
    return equal.to_numpy(dtype=bool, na_value=False)


def _state_frame(ordered: OrderedTurns) -> pd.DataFrame:
    """The state after every turn, in turn order, columns named without ``state.``."""
    names = state_fields(ordered.frame)
    return pd.DataFrame({name: ordered.column(STATE_PREFIX + name) for name in names},
                        index=pd.RangeIndex(len(ordered.codes)))


def _called(name: Any, condition: Callable[[pd.DataFrame], Any], state: pd.DataFrame) -> np.ndarray:
    try:
        result = condition(state)
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        fields = ", ".join(state.columns) or "none"
        raise AnalyticsError(
            f"Step {name!r}'s condition raised {type(exc).__name__}: {exc}; it receives the state "
            f"after every turn as a DataFrame with the columns: {fields}."
        ) from exc
    return _as_mask(name, result, state.index)


def _as_mask(name: Any, result: Any, index: pd.RangeIndex) -> np.ndarray:
    if isinstance(result, pd.Series):
        values = result if result.index.equals(index) else result.reindex(index, fill_value=False)
    else:
        values = pd.Series(np.asarray(result)) if np.ndim(result) == 1 else None
    if values is None or len(values) != len(index) or not pd.api.types.is_bool_dtype(values.dtype):
        got = type(result).__name__ + (f" of {values.dtype}" if values is not None else "")
        raise AnalyticsError(
            f"Step {name!r}'s condition must return one boolean per turn ({len(index)} here), not {got}; "
            "e.g. lambda state: state['step'] == 'done'."
        )
    return values.to_numpy(dtype=bool, na_value=False)


def _first_position(ordered: OrderedTurns, match: np.ndarray) -> np.ndarray:
    """Per session, the first position (turn order) where ``match`` holds; a sentinel if none."""
    reached = np.full(ordered.sessions, _NOT_REACHED, dtype=np.int64)
    positions = np.flatnonzero(match)
    codes = ordered.codes[positions]
    first = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, dtype=bool)
    reached[codes[first]] = positions[first]
    return reached
