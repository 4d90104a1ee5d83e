"""Transitions: how conversations move between the values of one state field.

Between each pair of consecutive turns of a session, the field's value before and after is
one transition. Like the flow views of Dashbot or Rasa, only changes are counted by default
(``stays=True`` also counts a turn that left the value as it was). A field that is missing
before and set after counts as a change from ``None``. Values become integer codes first, so
counting is one ``bincount``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .turns_contract import check_frame, field_name, in_turn_order, shares, state_column, value_codes


def transitions(turns: pd.DataFrame, field: str, *, stays: bool = False) -> pd.DataFrame:
    """Counts of ``from`` -> ``to`` values of state ``field`` between consecutive turns.

    Only changes count, unless ``stays=True``. Columns ``from``, ``to``, ``count`` and
    ``share`` (of the transitions out of ``from``), most common first (ties in value order, a
    missing value last). Every turn counts, whatever its kind, so a rewind that changes the
    field is a transition (filter ``turns.kind`` to leave rewinds out). ``attrs["field"]``
    names the field.
    """
    turns = check_frame(turns)
    column = state_column(turns, field)
    values, found, counts = np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if column is not None and len(turns) > 1:
        ordered = in_turn_order(turns)
        codes, values = value_codes(ordered.column(column), column)
        before, after = codes[:-1], codes[1:]
        keep = ordered.codes[1:] == ordered.codes[:-1]  # both turns in one session
        if not stays:
            keep &= before != after
        found, counts = _pair_counts(before[keep], after[keep], len(values))
    width = max(len(values), 1)
    origins = found // width
    out_of = np.bincount(origins, weights=counts, minlength=width)
    result = pd.DataFrame({
        "from": pd.Series(values[origins], dtype=object),
        "to": pd.Series(values[found % width], dtype=object),
        "count": counts.astype(np.int64),
        "share": shares(counts, out_of[origins]),
    })
    result.attrs["field"] = field_name(column or field)
    return result


def _pair_counts(before: np.ndarray, after: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each (before, after) pair as one code ``before * width + after`` and its count, most
    common first (ties in code order, which is value order)."""
    keys = before.astype(np.int64) * width + after
    if width * width <= 1 << 20:  # a small table: count every cell at once
        cells = np.bincount(keys, minlength=width * width)
        found = np.flatnonzero(cells)
        counts = cells[found]
    else:  # many distinct values (free text): count only the pairs that occur
        found, counts = np.unique(keys, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return found[order], counts[order]
