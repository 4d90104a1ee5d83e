"""Transcripts: the messages of the kept turns, one row each -- a view of the history.

There is one record of what a bot handled: each session's history of turns, which its store
keeps (:mod:`bottender_nb.stores.history`). A transcript is that history read as messages:
for each event turn, the message that came in (its text, else its payload), then each reply,
each with the state after the turn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .columns import to_column
from .turns import TurnTable, collect, platforms, seconds_to_utc, warn_skipped

TRANSCRIPT_COLUMNS = ["time", "session_id", "platform", "direction", "text", "state"]


def transcripts_frame(source: Any) -> pd.DataFrame:
    """The kept turns as messages, one row each: ``time`` (UTC), ``session_id``, ``platform``,
    ``direction`` ("in"/"out"), ``text``, ``state`` (the state after the turn, a dict).

    :param source: what :func:`~bottender_nb.analysis.turns.turns_frame` takes: a ``Bot``, a
        session store, a file store's directory, or a list of turns.
    """
    table, where = collect(source, "transcripts_frame")
    columns = _messages(table)
    data: dict[str, Any] = {
        "time": seconds_to_utc(columns["time"]),
        **{name: to_column(columns[name]) for name in ("session_id", "platform", "direction", "text")},
        "state": np.fromiter(columns["state"], dtype=object, count=len(columns["state"])),
    }
    frame = pd.DataFrame(data, columns=TRANSCRIPT_COLUMNS)
    frame.attrs["errors"] = table.errors
    warn_skipped(table.errors, "transcripts_frame", "entries that are not valid turns", where)
    return frame


def _messages(table: TurnTable) -> dict[str, list[Any]]:
    """The messages of event turns as columns: the incoming one (text, else payload), then
    each reply. A rewind, fork or reset changes state, but nobody said anything."""
    turns = table.columns
    out: dict[str, list[Any]] = {name: [] for name in TRANSCRIPT_COLUMNS}
    rows = zip(turns["kind"], turns["time"], turns["session_id"], platforms(turns), turns["text"],
               turns["payload"], turns["replies"], turns["state"])
    for kind, time, session_id, platform, text, payload, replies, state in rows:
        if kind != "event":
            continue
        state = dict(state or {})
        said = [text if text is not None else payload, *(replies or [])]
        out["time"] += [time] * len(said)
        out["session_id"] += [session_id] * len(said)
        out["platform"] += [platform] * len(said)
        out["direction"] += ["in"] + ["out"] * (len(said) - 1)
        out["text"] += said
        out["state"] += [state] * len(said)
    return out
