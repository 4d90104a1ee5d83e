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

from .turns_input import START, Turns, as_values, check_values_column, field_name, state_column, wrap


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
    # the total out of each value as a column of its own first: Dask cannot align a window inside `when`
    result = counted.with_columns(nw.col("count").sum().over("from").alias("__out"))
    share = nw.col("count").cast(nw.Float64) / nw.col("__out")  # a pair counted has happened: never 0 out
    result = result.select("from", "to", nw.col("count").cast(nw.Int64), share.alias("share"))
    native = wrapped.native(result.sort(["count", "from", "to"], descending=[True, False, False], nulls_last=True))
    if wrapped.pandas:
        native = as_values(native, "from", "to")
        native.attrs["field"] = field_name(column or field)
    return native


def _counts(turns: Turns, column: str, stays: bool) -> Any:
    """``from``, ``to`` and ``count``: the changes (and with ``stays``, the stays) of ``column``.

    A session's first turn has no turn before it. The changes, a small part of the turns, are
    counted by their pairs of values. The stays of an eager frame are counted by their value
    alone, over every turn: one key, not two, since pairs are most of the cost of a group-by on
    pandas, and no copy of the turns that stay. A lazy frame counts the stays with the changes
    in one group-by: two counts would run its query (the turn before, a window) twice.
    """
    value, before = nw.col(column), nw.col("from")
    same = (value == before).fill_null(False) | (value.is_null() & before.is_null())  # missing both times too
    frame = turns.previous(turns.in_order(column), column)
    frame = frame.select(START, "from", value.alias("to"), same.alias("__same"))
    counted = ~nw.col(START) if stays and turns.lazy else ~nw.col(START) & ~nw.col("__same")
    changes = frame.filter(counted).group_by("from", "to").agg(nw.len().alias("count"))
    if not stays or turns.lazy:
        return changes
    kept = frame.with_columns((~nw.col(START) & nw.col("__same")).alias("__stay"))
    kept = kept.group_by("to").agg(nw.col("__stay").sum().alias("count")).filter(nw.col("count") > 0)
    kept = kept.select(nw.col("to").alias("from"), "to", nw.col("count").cast(nw.Int64))
    return nw.concat([changes.select("from", "to", nw.col("count").cast(nw.Int64)), kept])
