"""The turns frame the analytics read: its required columns, its state fields, its turn order.

A turns frame (``turns_frame(...)``, SPEC §7) has one row per turn: ``session_id``,
``platform``, ``turn``, ``time`` (tz-aware), ``kind``, ``text``, ``replies``, ``changed`` and one
``state.<field>`` column per state field after the turn (nested objects as ``state.a.b``). Rows
may come in any order. Every analytics function checks its input here, once, and works on
integer codes afterwards, so no Python code runs per turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalyticsError
from .columns import STATE_PREFIX

_HINT = "pass the DataFrame turns_frame(...) returns"


@dataclass(frozen=True)
class OrderedTurns:
    """A turns frame in (session, turn) order, as positions and session codes.

    ``rows`` are positions into the frame (``None`` when it is already in order); ``codes``
    number the sessions, one per row in that order, never decreasing.
    """

    frame: pd.DataFrame
    rows: np.ndarray | None
    codes: np.ndarray
    sessions: int

    def column(self, name: str) -> pd.Series:
        """Column ``name`` in turn order, with a fresh 0..n-1 index."""
        return self.take(self.frame[name])

    def take(self, values: pd.Series) -> pd.Series:
        """``values`` (one per row of the frame) in turn order, with a fresh 0..n-1 index."""
        return (values if self.rows is None else values.iloc[self.rows]).reset_index(drop=True)

    @property
    def ends(self) -> np.ndarray:
        """True on each session's last turn."""
        return np.r_[self.codes[1:] != self.codes[:-1], True][: len(self.codes)]


def check_frame(turns: Any, *columns: str) -> pd.DataFrame:
    """``turns`` if it is a DataFrame holding ``session_id``, ``turn`` and ``columns``."""
    if not isinstance(turns, pd.DataFrame):
        raise AnalyticsError(f"turns must be a pandas DataFrame, not {type(turns).__name__}; {_HINT}.")
    if "session_id" not in turns.columns and {"you", "bot"} <= set(turns.columns):
        raise AnalyticsError(  # the table %turns shows, kept with t = %turns
            "This is %turns' table for reading (turn, time, kind, you, bot, changed), not a "
            "turns frame; pass turns_frame(bot) (after %%action, `bot` is the notebook's bot)."
        )
    for name in ("session_id", "turn", *columns):
        if name not in turns.columns:
            raise AnalyticsError(
                f"This turns frame has no {name!r} column; {_HINT} (columns session_id, platform, "
                "turn, time, kind, text, replies, changed, state.<field>)."
            )
    return turns


def in_turn_order(turns: pd.DataFrame) -> OrderedTurns:
    """The frame's rows by session, then turn; a sort only when they are not in that order."""
    codes, uniques = pd.factorize(turns["session_id"], use_na_sentinel=False)
    turn = _turn_numbers(turns)
    same = codes[1:] == codes[:-1]
    # factorize numbers sessions by first appearance, so grouped rows give codes that never fall
    if np.all(codes[1:] >= codes[:-1]) and np.all(turn[1:][same] > turn[:-1][same]):
        return OrderedTurns(turns, None, codes, len(uniques))
    rows = np.lexsort((turn, codes))
    return OrderedTurns(turns, rows, codes[rows], len(uniques))


def _turn_numbers(turns: pd.DataFrame) -> np.ndarray:
    turn = turns["turn"]
    if not pd.api.types.is_numeric_dtype(turn) or turn.isna().any():
        raise AnalyticsError(f"The 'turn' column must hold turn numbers (0, 1, 2 ...) on every row; {_HINT}.")
    return turn.to_numpy(dtype=np.int64)


def state_fields(turns: pd.DataFrame) -> list[str]:
    """The frame's state field names, without the ``state.`` prefix."""
    return [str(name)[len(STATE_PREFIX):] for name in turns.columns if str(name).startswith(STATE_PREFIX)]


def state_column(turns: pd.DataFrame, field: Any) -> str | None:
    """The column of state ``field`` (``"step"``, ``"state.step"`` or nested ``"a.b"``).

    ``None`` for a field an empty frame lacks (no turn, so no state fields yet); an error naming
    the frame's fields for an unknown one.
    """
    if not isinstance(field, str) or not field:
        raise AnalyticsError(
            f"A state field is named by a string such as 'step' or 'profile.city', not {field!r}."
        )
    column = field if field.startswith(STATE_PREFIX) else STATE_PREFIX + field
    if column in turns.columns:
        return column
    if turns.empty:
        return None
    fields = ", ".join(state_fields(turns)) or "none"
    raise AnalyticsError(f"No state field {field!r} in this turns frame; its state fields: {fields}.")


def field_name(field: str) -> str:
    """``field`` without the ``state.`` prefix, for column names and titles."""
    return field[len(STATE_PREFIX):] if field.startswith(STATE_PREFIX) else field


def turn_times(turns: pd.DataFrame) -> pd.Series:
    """The ``time`` column as tz-aware datetimes (naive ones are taken as UTC)."""
    times = turns["time"]
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times
    if pd.api.types.is_datetime64_dtype(times):
        return times.dt.tz_localize("UTC")
    raise AnalyticsError(
        f"The 'time' column holds {times.dtype}, not datetimes; {_HINT}, or convert it with "
        "pd.to_datetime(turns['time'], utc=True)."
    )


def value_codes(values: pd.Series, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a state column's values, and the values (``None`` for missing), in
    sorted order when they sort (so ties come out the same whatever the row order)."""
    try:
        try:
            codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
        except TypeError:  # values of several kinds do not sort: first appearance instead
            codes, uniques = pd.factorize(values, use_na_sentinel=False)
    except TypeError as exc:  # lists or objects cannot be told apart by hashing
        raise AnalyticsError(
            f"State field {field_name(field)!r} holds lists or objects; count the values of a field "
            "that holds strings, numbers or booleans (or derive one with turns.assign(...))."
        ) from exc
    values = np.array(uniques.to_numpy(dtype=object), dtype=object)  # a copy of our own
    values[np.asarray(pd.isna(uniques), dtype=bool)] = None
    return codes, values


def shares(part: np.ndarray, whole: np.ndarray | float) -> np.ndarray:
    """``part / whole`` as floats, NaN where ``whole`` is 0 (no share of nothing)."""
    part = np.asarray(part, dtype=float)
    whole = np.broadcast_to(np.asarray(whole, dtype=float), part.shape)
    out = np.full(part.shape, np.nan)
    np.divide(part, whole, out=out, where=whole > 0)
    return out
