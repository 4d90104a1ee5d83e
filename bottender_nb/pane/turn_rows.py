"""How a turn reads in one row: what came in, what went out, what changed.

Shared by ``%turns`` (a table) and the chat pane's timeline (one line per turn), so a turn
reads the same in both. Plain text: whoever shows it as HTML escapes it (pandas does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..turns import Turn

if TYPE_CHECKING:
    import pandas

REPLY_SEPARATOR = " / "
COLUMNS = ("time", "kind", "you", "bot", "changed")


def said(turn: Turn) -> str:
    """What came in: the text or payload typed, or the time-travel verb that made the turn."""
    raw = turn.raw if isinstance(turn.raw, dict) else {}
    if turn.kind == "rewind":
        return f"⟲ rewind to {(raw.get('rewind') or {}).get('to', '?')}"
    if turn.kind == "fork":
        fork = raw.get("fork") or {}
        return f"fork of {fork.get('from', '?')} at {fork.get('turn', '?')}"
    if turn.kind == "reset":
        return "/reset"
    if turn.payload is not None:
        return f"/payload {turn.payload}"
    return turn.text if turn.text is not None else "(no text)"


def replied(turn: Turn) -> str:
    """What went out: the bot's replies, in order."""
    return REPLY_SEPARATOR.join(turn.replies)


def changed(turn: Turn) -> str:
    """The state keys the turn changed, e.g. ``name, city``."""
    return ", ".join(turn.changed)


def one_line(turn: Turn, width: int = 48) -> str:
    """``2  Paris → Is Paris right? · city``: a timeline row, long texts shortened."""
    reply = replied(turn)
    text = _shorten(said(turn), width // 2)
    if reply:
        text += f" → {_shorten(reply, width - len(text))}"
    keys = changed(turn)
    return f"{turn.index}  {text}" + (f"  · {keys}" if keys else "")


def turns_table(turns: Sequence[Turn]) -> pandas.DataFrame:
    """One row per turn, indexed by turn number: time (UTC), kind, you, bot, changed."""
    import pandas

    rows: dict[str, list[Any]] = {column: [] for column in COLUMNS}
    for turn in turns:
        for column, value in zip(COLUMNS, (turn.time, turn.kind, said(turn), replied(turn),
                                            changed(turn))):
            rows[column].append(value)
    frame = pandas.DataFrame(rows, index=pandas.Index([turn.index for turn in turns], name="turn"))
    frame["time"] = pandas.to_datetime(frame["time"], unit="s", utc=True).dt.floor("s")
    return frame


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())  # one line: newlines in a reply would break the row
    width = max(width, 8)
    return text if len(text) <= width else text[: width - 1] + "…"
