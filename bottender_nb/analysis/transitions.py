"""Transitions: how conversations move between the values of one state field.

Between each pair of consecutive turns of a session, the field's value before and after is
one transition. Like the flow views of Dashbot or Rasa, only changes are counted by default
(``stays=True`` also counts a turn that left the value as it was). A field that is missing
before and set after counts as a change from ``None``. The turn before is the row before in
(session, turn) order, a ``shift`` (:mod:`.turns_input`), unless it began another session.
"""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from .turns_input import START, Turns, as_values, check_values_column, field_name, state_column, wrap

_STAYS = "__stays"


def transitions(turns: Any, field: str, *, stays: bool = False) -> Any:
    """Counts of ``from`` -> ``to`` values of state ``field`` between consecutive turns.

    Only changes count, unless ``stays=True``. Columns ``from``, ``to``, ``count`` and
    ``share`` (of the transitions out of ``from``), most common first (ties in value order, a
    missing value last). Every turn counts, whatever its kind, so a rewind that changes the
    field is a transition (filter ``turns.kind`` to leave rewinds out). On any engine, the same
    kind of frame; on pandas ``attrs["field"]`` names the field.
    """
    wrapped = wrap(turns)
    column = state_column(wrapped, field)
    if column is None:
        frame = wrapped.frame.select(nw.lit(None).alias("from"), nw.lit(None).alias("to")).head(0)
        counted = frame.group_by("from", "to").agg(nw.len().alias("count"))
    else:
        check_values_column(wrapped, column)
        counted = _counts(wrapped, column, stays)
    native = wrapped.native(_query(counted) if wrapped.lazy else _table(counted))
    if wrapped.pandas:
        native = as_values(native, "from", "to")
        native.attrs["field"] = field_name(column or field)
    return native


def _counts(turns: Turns, column: str, stays: bool) -> Any:
    """``from``, ``to`` and ``count``: the changes (and with ``stays``, the stays) of ``column``.

    A session's first turn has no turn before it. The changes, a small part of the turns, are
    counted by their pairs of values. A lazy frame counts the stays with the changes in one
    group-by: two counts would run its query (the turn before, a window) twice. An eager frame
    counts them by runs (a session's turns from one change to the next): a run of n turns holds
    n - 1 stays of its value, and its change comes from the run before's value, so only the
    turns that begin a run are copied and grouped, with their stays in :data:`_STAYS`.
    """
    value, start = nw.col(column), nw.col(START)
    if not stays or turns.lazy:
        frame = turns.previous(column)
        counted = ~start if stays else ~start & ~_same(value, nw.col("from"))
        frame = frame.select("from", value.alias("to"), counted.alias("__counted")).filter(nw.col("__counted"))
        return frame.group_by("from", "to").agg(nw.len().alias("count"))
    # eager: the rows in turn order, numbered 1 ... n (a running count of a column never missing)
    numbers, changes = nw.col("turn").is_null().cum_count(), ~_same(value, value.shift(1))
    frame = turns.in_order(column, more=[numbers.alias("__row"), changes.alias("__changes")])
    runs = frame.filter(start | nw.col("__changes"))
    following = nw.col("__row").shift(-1).fill_null(len(frame) + 1)
    runs = runs.select(value.alias("to"), value.shift(1).alias("from"), (~start).alias("__change"),
                       (following - nw.col("__row") - 1).alias(_STAYS))
    # a session's first run comes from no change: its "from" (the session before's) counts nothing
    return runs.group_by("from", "to").agg(nw.col("__change").sum().alias("count"), nw.col(_STAYS).sum())


def _same(value: Any, before: Any) -> Any:
    """An expression: ``value`` equals ``before``, or both are missing."""
    return (value == before).fill_null(False) | (value.is_null() & before.is_null())


def _query(counted: Any) -> Any:
    """The table of a lazy frame's counts, still a query: shares of the count out of each value."""
    count = nw.col("count")
    share = count.cast(nw.Float64) / count.sum().over("from")  # a pair counted has happened: never 0 out
    result = counted.select("from", "to", count.cast(nw.Int64), share.alias("share"))
    return result.sort(["count", "from", "to"], descending=[True, False, False], nulls_last=True)


def _table(counted: Any) -> Any:
    """The table of an eager frame's counts, made at once: they are a few rows (a pair of values
    each), so the shares and the order are worked out in Python. The values are taken from the
    rows of ``counted`` themselves, so they keep their type."""
    pairs = _pairs(counted.rows())
    out: dict[Any, int] = {}
    for (before, _), (count, _, _) in pairs.items():
        out[before] = out.get(before, 0) + count
    order = sorted(pairs, key=lambda pair: (-pairs[pair][0], *_last(pair[0]), *_last(pair[1])))
    backend = nw.get_native_namespace(counted)

    def series(name: str, values: list[Any], dtype: Any) -> Any:
        return nw.new_series(name, values, dtype, backend=backend)

    stay = series("stay", [pairs[pair][2] for pair in order], nw.Boolean())
    return counted[[pairs[pair][1] for pair in order]].select(
        nw.when(stay).then(nw.col("to")).otherwise(nw.col("from")).alias("from"), "to",
        series("count", [pairs[pair][0] for pair in order], nw.Int64()),
        series("share", [pairs[pair][0] / out[pair[0]] for pair in order], nw.Float64()),
    )


def _pairs(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, Any], tuple[int, int, bool]]:
    """Each (from, to) pair of the counted ``rows``: its count, the row its values are taken from,
    and whether it is a stay (a value with itself: the :data:`_STAYS` of the rows of that ``to``)."""
    pairs: dict[tuple[Any, Any], tuple[int, int, bool]] = {}
    for row, (before, after, count, *kept) in enumerate(rows):
        before, after = _value(before), _value(after)
        if count:  # a change: its values differ, so its pair is never a stay's
            pairs[before, after] = (count, row, False)
        if kept and kept[0]:
            stays, _, _ = pairs.get((after, after), (0, row, True))
            pairs[after, after] = (stays + kept[0], row, True)
    return pairs


def _value(value: Any) -> Any:
    """``value`` of a row, ``None`` when missing (pandas gives NaN, NA or NaT)."""
    return None if pd.api.types.is_scalar(value) and pd.isna(value) else value


def _last(value: Any) -> tuple[bool, Any]:
    """A sort key putting a missing value after every other."""
    return value is None, value
