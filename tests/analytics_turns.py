"""A small hand-built turns frame (SPEC §7's columns) whose analytics are worked out by hand.

Six sessions of a name -> city -> done flow over three days (D0 = Monday 2026-01-05, UTC):

    session       turn  time         kind    state.step   state.count  state.profile.city
    console:a     0     D0 09:00     event   asked_name   1            None
                  1     D0 09:01     event   asked_city   2            None
                  2     D1 09:00     event   asked_city   3            Paris
                  3     D2 09:00     event   done         4            Paris
    console:b     0     D0 12:00     event   asked_name   1            None
                  1     D0 12:05     event   asked_city   2            None
    line:c        0     D1 08:00     event   asked_name   1            None
                  1     D1 08:02     event   done         2            Lyon      (skips the city step)
    telegram:d    0     D1 20:00     event   asked_name   1            None      (one turn)
    console:e     0     D1 10:00     event   asked_city   1            None      (city before name)
                  1     D1 10:01     event   asked_name   2            None
                  2     D2 10:00     event   asked_city   3            Paris
                  3     D2 10:05     event   done         4            Paris
    console:f     0     D2 11:00     event   asked_name   1            None
                  1     D2 11:01     event   asked_city   2            None
                  2     D2 11:02     rewind  asked_name   1            None      (rewound to turn 0)

The frame's latest turn is D2 11:02.
"""

from __future__ import annotations

import pandas as pd

D0 = pd.Timestamp("2026-01-05", tz="UTC")
ROWS = [  # session, turn, day, "HH:MM", kind, step, count, city
    ("console:a", 0, 0, "09:00", "event", "asked_name", 1, None),
    ("console:a", 1, 0, "09:01", "event", "asked_city", 2, None),
    ("console:a", 2, 1, "09:00", "event", "asked_city", 3, "Paris"),
    ("console:a", 3, 2, "09:00", "event", "done", 4, "Paris"),
    ("console:b", 0, 0, "12:00", "event", "asked_name", 1, None),
    ("console:b", 1, 0, "12:05", "event", "asked_city", 2, None),
    ("line:c", 0, 1, "08:00", "event", "asked_name", 1, None),
    ("line:c", 1, 1, "08:02", "event", "done", 2, "Lyon"),
    ("telegram:d", 0, 1, "20:00", "event", "asked_name", 1, None),
    ("console:e", 0, 1, "10:00", "event", "asked_city", 1, None),
    ("console:e", 1, 1, "10:01", "event", "asked_name", 2, None),
    ("console:e", 2, 2, "10:00", "event", "asked_city", 3, "Paris"),
    ("console:e", 3, 2, "10:05", "event", "done", 4, "Paris"),
    ("console:f", 0, 2, "11:00", "event", "asked_name", 1, None),
    ("console:f", 1, 2, "11:01", "event", "asked_city", 2, None),
    ("console:f", 2, 2, "11:02", "rewind", "asked_name", 1, None),
]


def at(day: int, clock: str) -> pd.Timestamp:
    return D0 + pd.Timedelta(days=day) + pd.Timedelta(clock + ":00")


def hand_built() -> pd.DataFrame:
    """The frame above, with every column of the contract (texts and replies made up)."""
    previous: dict[str, tuple] = {}
    records = []
    for session_id, turn, day, clock, kind, step, count, city in ROWS:
        before = previous.get(session_id, (None, 0, None))
        changed = [key for key, old, new in zip(("step", "count", "profile"), before, (step, count, city))
                   if old != new]
        previous[session_id] = (step, count, city)
        records.append({
            "session_id": session_id, "platform": session_id.partition(":")[0], "turn": turn,
            "time": at(day, clock), "kind": kind, "text": None if kind == "rewind" else f"message {turn}",
            "replies": [] if kind == "rewind" else [f"reply {turn}"], "changed": changed,
            "state.step": step, "state.count": count, "state.profile.city": city,
        })
    frame = pd.DataFrame(records)
    frame["time"] = frame["time"].astype("datetime64[ns, UTC]")
    frame["state.step"] = frame["state.step"].astype("str")
    return frame


def empty() -> pd.DataFrame:
    """A turns frame with no turns: the fixed columns, no state fields."""
    return pd.DataFrame({
        "session_id": pd.Series(dtype="str"), "platform": pd.Series(dtype="str"),
        "turn": pd.Series(dtype="int64"), "time": pd.Series(dtype="datetime64[ns, UTC]"),
        "kind": pd.Series(dtype="str"), "text": pd.Series(dtype=object),
        "replies": pd.Series(dtype=object), "changed": pd.Series(dtype=object),
    })
