"""The turns frame the analytics read, on any engine Narwhals speaks: its columns, fields, order.

A turns frame (``turns_frame(...)``) has one row per turn: ``session_id``, ``platform``,
``turn``, ``time`` (tz-aware), ``kind``, ``text``, ``replies``, ``changed`` and one
``state.<field>`` column per state field after the turn (nested objects as ``state.a.b``). Rows
may come in any order. It may be pandas, Polars (eager or lazy), a DuckDB relation, a PyArrow
table or a Dask frame: every analytics function wraps it here once (:func:`wrap`), works on
Narwhals expressions, and hands back the same kind (:meth:`Turns.native`): lazy in, lazy out.

Only what every one of those engines runs is used: joins, group-bys, ``over`` without an
order, and a row index in (session, turn) order for "the previous turn" (Dask and PyArrow
have no ordered windows; a join on ``row - 1`` is the same answer on all of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw
import narwhals.stable.v2.dtypes as dtypes

from ..errors import AnalyticsError
from .columns import STATE_PREFIX

_HINT = "pass the DataFrame turns_frame(...) returns (or its Parquet export, read by any engine)"
ROW = "__row"
"""The row index in (session, turn) order that :meth:`Turns.ordered` adds."""


@dataclass(frozen=True)
class Turns:
    """A turns frame wrapped by Narwhals, with its schema read once."""

    frame: Any  # nw.DataFrame or nw.LazyFrame
    schema: dict[str, Any]
    pandas: bool

    @property
    def lazy(self) -> bool:
        return isinstance(self.frame, nw.LazyFrame)

    def native(self, result: Any) -> Any:
        """``result`` (a Narwhals frame) as the caller's kind of frame."""
        return result.to_native()

    def ordered(self) -> Any:
        """The frame with :data:`ROW`, 0..n-1 in (session, turn) order."""
        return self.frame.with_row_index(ROW, order_by=["session_id", "turn"])

    def previous(self, frame: Any, *columns: str) -> Any:
        """The rows of ``frame`` (from :meth:`ordered`) that have a turn before them in their
        session, with that turn's ``prev.<column>``."""
        before = frame.select(
            (nw.col(ROW) + 1).alias(ROW), *(nw.col(name).alias("prev." + name) for name in ("session_id", *columns))
        )
        return frame.join(before, on=ROW).filter(nw.col("prev.session_id") == nw.col("session_id"))

    def collect(self, frame: Any) -> Any:
        """An eager Narwhals frame of ``frame`` (small results: counts, for ``attrs``)."""
        return frame.collect() if isinstance(frame, nw.LazyFrame) else frame


def wrap(turns: Any, *columns: str) -> Turns:
    """``turns`` as a Narwhals frame, if it holds ``session_id``, ``turn`` and ``columns``."""
    try:
        frame = nw.from_native(turns)
    except TypeError:
        frame = None
    if not isinstance(frame, (nw.DataFrame, nw.LazyFrame)):
        raise AnalyticsError(
            f"turns must be a data frame (pandas, Polars, DuckDB, PyArrow, Dask), not "
            f"{type(turns).__name__}; {_HINT}."
        )
    schema = dict(frame.collect_schema())
    for name in ("session_id", "turn", *columns):
        if name not in schema:
            raise AnalyticsError(
                f"This turns frame has no {name!r} column; {_HINT} (columns session_id, platform, "
                "turn, time, kind, text, replies, changed, state.<field>)."
            )
    if not schema["turn"].is_numeric():
        raise AnalyticsError(f"The 'turn' column must hold turn numbers (0, 1, 2 ...) on every row; {_HINT}.")
    if "time" in columns and not isinstance(schema["time"], dtypes.Datetime):
        raise AnalyticsError(
            f"The 'time' column holds {schema['time']}, not datetimes; {_HINT}, or convert it with "
            "pd.to_datetime(turns['time'], utc=True)."
        )
    return Turns(frame, schema, nw.get_native_namespace(frame).__name__ == "pandas")


def state_fields(turns: Turns) -> list[str]:
    """The frame's state field names, without the ``state.`` prefix."""
    return [name[len(STATE_PREFIX):] for name in turns.schema if name.startswith(STATE_PREFIX)]


def state_column(turns: Turns, field: Any) -> str | None:
    """The column of state ``field`` (``"step"``, ``"state.step"`` or nested ``"a.b"``).

    ``None`` for a field a frame without state fields lacks (no turn, so no state fields yet);
    an error naming the frame's fields for an unknown one.
    """
    if not isinstance(field, str) or not field:
        raise AnalyticsError(
            f"A state field is named by a string such as 'step' or 'profile.city', not {field!r}."
        )
    column = field if field.startswith(STATE_PREFIX) else STATE_PREFIX + field
    if column in turns.schema:
        return column
    fields = state_fields(turns)
    if not fields:
        return None
    raise AnalyticsError(f"No state field {field!r} in this turns frame; its state fields: {', '.join(fields)}.")


def field_name(field: str) -> str:
    """``field`` without the ``state.`` prefix, for column names and titles."""
    return field[len(STATE_PREFIX):] if field.startswith(STATE_PREFIX) else field


def check_values_column(turns: Turns, column: str) -> None:
    """A column whose values are counted holds scalars, not lists or objects."""
    if isinstance(turns.schema[column], (dtypes.List, dtypes.Struct, dtypes.Array)) or _object_of_lists(turns, column):
        raise AnalyticsError(
            f"State field {field_name(column)!r} holds lists or objects; count the values of a field "
            "that holds strings, numbers or booleans (or derive one with turns.assign(...))."
        )


def _object_of_lists(turns: Turns, column: str) -> bool:
    if not turns.pandas or not isinstance(turns.schema[column], dtypes.Object):
        return False
    values = turns.frame.get_column(column).to_native()
    return any(isinstance(value, (list, dict)) for value in values.head(1000))


def equals(turns: Turns, column: str, value: Any) -> Any:
    """An expression: the column holds ``value`` (``None``: is missing); a value of another
    kind than the column's (a number against strings) matches nothing, as in pandas."""
    expression = nw.col(column)
    if value is None:
        return expression.is_null()
    dtype = turns.schema[column]
    if isinstance(dtype, dtypes.Object):
        return (expression == value).fill_null(False)
    text, number = isinstance(value, str), isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, bool):
        fits = isinstance(dtype, dtypes.Boolean)
    elif text:
        fits = isinstance(dtype, (dtypes.String, dtypes.Categorical, dtypes.Enum))
    elif number:
        fits = dtype.is_numeric()
    else:
        fits = True
    return (expression == value).fill_null(False) if fits else nw.lit(False)


def as_values(frame: Any, *columns: str) -> Any:
    """A pandas result's value columns as objects, ``None`` where a value is missing (not NA/NaN)."""
    for name in columns:
        values = frame[name].astype(object)
        frame[name] = values.where(values.notna(), None)
    return frame


def naive_utc(turns: Turns, moment: Any) -> Any:
    """``moment`` (tz-aware) as the time column holds times: naive (as UTC) when it is naive."""
    naive = getattr(turns.schema["time"], "time_zone", None) is None
    return moment.tz_convert("UTC").tz_localize(None) if naive else moment


def share(part: Any, whole: Any) -> Any:
    """``part / whole`` as floats, null (NaN in pandas) where ``whole`` is 0: no share of nothing."""
    return nw.when(whole > 0).then(part.cast(nw.Float64) / whole)
