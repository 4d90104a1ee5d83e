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

from .turns_input import START, as_values, check_values_column, field_name, share, state_column, wrap


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
    else:
        check_values_column(wrapped, column)
        ordered = wrapped.in_order(column)
        frame = wrapped.previous(ordered, column).select(START, "from", nw.col(column).alias("to"))
        keep = ~nw.col(START)  # a session's first turn has no turn before it
        if not stays:
            same = (nw.col("from") == nw.col("to")).fill_null(False)
            keep = keep & ~(same | (nw.col("from").is_null() & nw.col("to").is_null()))
        frame = frame.filter(keep).drop(START)
    counted = frame.group_by("from", "to").agg(nw.len().alias("count"))
    # the total out of each value as a column of its own first: Dask cannot align a window inside `when`
    result = counted.with_columns(nw.col("count").sum().over("from").alias("__out"))
    result = result.with_columns(share(nw.col("count"), nw.col("__out")).alias("share"))
    result = result.sort(["count", "from", "to"], descending=[True, False, False], nulls_last=True)
    native = wrapped.native(result.select("from", "to", nw.col("count").cast(nw.Int64), "share"))
    if wrapped.pandas:
        native = as_values(native.reset_index(drop=True), "from", "to")
        native.attrs["field"] = field_name(column or field)
    return native
