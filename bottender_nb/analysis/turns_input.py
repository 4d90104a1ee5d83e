"""The turns frame the analytics read, on any engine Narwhals speaks: its columns, fields, order.

A turns frame (``turns_frame(...)``) has one row per turn: ``session_id``, ``platform``,
``turn``, ``time`` (tz-aware), ``kind``, ``text``, ``replies``, ``changed`` and one
``state.<field>`` column per state field after the turn (nested objects as ``state.a.b``). Rows
may come in any order. It may be pandas, Polars (eager or lazy), a DuckDB relation, a PyArrow
table or a Dask frame: every analytics function wraps it here once (:func:`wrap`), works on
Narwhals expressions, and hands back the same kind (:meth:`Turns.native`): lazy in, lazy out.

"The turn before" and "so far in this session" need the rows in (session, turn) order. An
eager frame is put in that order once (:meth:`Turns.in_order`; sorted only when it is not, as
``turns_frame`` gives it, and told so without hashing the ids when each session's rows start at
turn 0), and its order-dependent steps (``shift``, ``cum_sum``) then run on
the rows as they are: on pandas those are single vectorised passes, no join and no group-by on
the session-id strings. A lazy frame has no row order (Narwhals' rule), so the same steps run
as windows over that order (:meth:`Turns.window`, ``over(order_by=...)``). Session boundaries
come from a ``__start`` column (the session's first turn), never from a partitioned window,
which Dask cannot order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw
import narwhals.stable.v2.dtypes as dtypes

from ..errors import AnalyticsError
from .columns import STATE_PREFIX

_HINT = "pass the DataFrame turns_frame(...) returns (or its Parquet export, read by any engine)"
ORDER = ["session_id", "turn"]
START = "__start"
"""True on each session's first turn (in :meth:`Turns.in_order`'s frame)."""
SESSION, END = "__session", "__end"
"""A session's number and its last turn (:meth:`Turns.numbered`)."""


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
        """``result`` (a Narwhals frame) as the caller's kind of frame (pandas: a fresh 0..n-1 index)."""
        native = result.to_native()
        return native.reset_index(drop=True) if self.pandas else native

    @property
    def ordered_windows(self) -> bool:
        """Can the engine run a window in an order? Dask cannot (Narwhals has no ``over(order_by=...)``
        for it), so there a session's first and last turns come from its least and greatest turn
        number, and the turn before from a join (:meth:`previous`); everything else is the same."""
        return not self.frame.implementation.is_dask()

    def window(self, expression: Any) -> Any:
        """An order-dependent ``expression`` (``shift``, ``cum_sum`` ...) in (session, turn) order.

        An eager frame from :meth:`in_order` is in that order already; a lazy one has no row
        order, so the order is given to the engine (a window ordered by session and turn).
        """
        return expression.over(order_by=ORDER) if self.lazy else expression

    def in_order(self, *columns: str, more: Sequence[Any] = ()) -> Any:
        """``columns``, :data:`START` and the columns of the expressions ``more`` (read in (session,
        turn) order, built with :meth:`window`), in one pass; on a lazy frame, and without ordered
        windows, ``session_id`` and ``turn`` too, for its later windows and joins. An eager frame's
        rows are in (session, turn) order, sorted only when they are not grouped by session in
        turn order. Without ordered windows (Dask) ``more`` must not read the rows' order."""
        names = dict.fromkeys(["session_id", "turn", *columns])
        starts = (nw.col("session_id") != self.window(nw.col("session_id").shift(1))).fill_null(True)
        if not self.ordered_windows:
            frame = self._bounds(self.frame.select(*names), "min", START)
            return frame.with_columns(*more) if more else frame
        if self.lazy:
            return self.frame.select(*names, starts.alias(START), *more)
        # a new id, or a turn not after the one before: grouped rows start each id once
        new_id = nw.col("session_id") != nw.col("session_id").shift(1)
        first = (new_id | (nw.col("turn").diff() <= 0)).fill_null(True)
        frame = self.frame.select(*dict.fromkeys(columns), first.alias(START), *more)
        if not self._grouped(frame.get_column(START)):
            frame = self.frame.select(*names).sort(ORDER).with_columns(starts.alias(START), *more)
        return frame

    def _grouped(self, firsts: Any) -> bool:
        """Does each session start one run of rows (``firsts``: a Series, true where one starts)?
        A session has one turn 0 (a turns frame has one row per turn), so when every run starts at
        turn 0 no session starts two; otherwise no first id may come twice (a hash of them all)."""
        if (self.frame.get_column("turn").filter(firsts) == 0).fill_null(False).all():
            return True
        return firsts.sum() == self.frame.get_column("session_id").filter(firsts).n_unique()

    def numbered(self, frame: Any, *more: Any, session: bool = True, end: bool = False, keep: bool = True) -> Any:
        """``frame`` (from :meth:`in_order`) with the columns of the expressions ``more`` and, as
        asked, :data:`SESSION`, the session's number (1, 2 ... in turn order; a cumulative sum),
        and :data:`END`, true on its last turn (a shift), in one pass over the frame. Each is
        asked for only where it is read: a pass over every turn is most of the cost on pandas.
        ``keep=False`` keeps of ``frame`` only :data:`START` (and a lazy frame's order, for later
        windows): a narrow frame is cheaper to filter. Without ordered windows (Dask) there is
        no :data:`SESSION` (key by ``session_id``), and :data:`END` comes from the session's
        greatest turn number."""
        if not self.ordered_windows:
            frame = frame.with_columns(*more) if more else frame
            return self._bounds(frame, "max", END) if end else frame
        marks = [self.window(nw.col(START).cast(nw.Int64).cum_sum()).alias(SESSION)] if session else []
        if end:  # the next row starts a session, or there is none. Float32: pandas shifts booleans
            # into objects and integers into float64, and a float holds the missing value as it is
            following = self.window(nw.col(START).cast(nw.Float32).shift(-1))
            marks.append((following != 0).fill_null(True).alias(END))
        if not keep:
            return frame.select(*(ORDER if self.lazy else ()), START, *marks, *more)
        return frame.with_columns(*marks, *more) if marks or more else frame

    def beside(self, frame: Any, key: str, aggregate: Any, name: str) -> Any:
        """``frame`` with ``name``: ``aggregate`` (an expression) of each ``key`` group, beside the
        group's rows. A window; without ordered windows (Dask, which cannot align a window's
        result with its frame) a group-by and a join."""
        if self.ordered_windows:
            return frame.with_columns(aggregate.over(key).alias(name))
        return frame.join(frame.group_by(key).agg(aggregate.alias(name)), on=key)

    def _bounds(self, frame: Any, bound: str, name: str) -> Any:
        """``frame`` with ``name``: the row holds its session's least (``"min"``) or greatest turn
        number (Dask, through :meth:`beside`)."""
        frame = self.beside(frame, "session_id", getattr(nw.col("turn"), bound)(), "__bound")
        return frame.with_columns((nw.col("turn") == nw.col("__bound")).alias(name)).drop("__bound")

    def previous(self, column: str) -> Any:
        """:meth:`in_order` of ``column`` with ``from``: its value at the session's turn before
        (null at its first turn), a shift in the same pass. Without ordered windows (Dask), the
        greatest earlier turn number, by a join of each session's turns with each other (its
        length squared rows)."""
        if self.ordered_windows:
            return self.in_order(column, more=[self.window(nw.col(column).shift(1)).alias("from")])
        frame = self.in_order(column)
        turns = frame.select("session_id", nw.col("turn").alias("__before"))
        before = (frame.select("session_id", "turn").join(turns, on="session_id")
                  .filter(nw.col("__before") < nw.col("turn")).group_by("session_id", "turn")
                  .agg(nw.col("__before").max()))
        values = frame.select("session_id", nw.col("turn").alias("__before"), nw.col(column).alias("from"))
        before = before.join(values, on=["session_id", "__before"]).drop("__before")
        return frame.join(before, on=["session_id", "turn"], how="left")

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
    if "session_id" not in schema and {"you", "bot"} <= set(schema):
        raise AnalyticsError(  # the table %turns shows, kept with t = %turns
            "This is %turns' table for reading (turn, time, kind, you, bot, changed), not a "
            "turns frame; pass turns_frame(bot) (after %%action, `bot` is the notebook's bot)."
        )
    for name in ("session_id", "turn", *columns):
        if name not in schema:
            raise AnalyticsError(
                f"This turns frame has no {name!r} column; {_HINT} (columns session_id, platform, "
                "turn, time, kind, text, replies, changed, state.<field>)."
            )
    if not schema["turn"].is_numeric():
        raise AnalyticsError(f"The 'turn' column must hold turn numbers (0, 1, 2 ...) on every row; {_HINT}.")
    # DuckDB's nanosecond zoned timestamps have no Narwhals name (Unknown): the engine checks those
    if "time" in columns and not isinstance(schema["time"], (dtypes.Datetime, dtypes.Unknown)):
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
