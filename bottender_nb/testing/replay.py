"""Replay a session's recorded turns against a bot, and say where it now differs.

Each recorded event is resent, as it was received, to a twin of the bot on a fresh memory
store whose clock reads the recorded times; rewinds, forks and resets are applied as they
were. So a change to the action shows up at the first turn whose replies or state it changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import HistoryError
from ..frozen import thaw
from ..session.runner import Bot
from ..session.sync import run_sync
from ..stores.memory import MemorySessionStore
from ..turns import Turn

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["turn", "what", "key", "expected", "actual"]


class _Missing:
    """A reply or state key that one side has and the other has not."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


def replay(turns: Iterable[Turn | Mapping[str, Any]], bot: Bot) -> pd.DataFrame:
    """The differences between the recorded turns and the bot's answers now; empty if none.

    One row per reply or state key that differs: ``turn``, ``what`` (``"reply"`` or
    ``"state"``), ``key`` (the reply's position, or the state key), ``expected``, ``actual``.
    """
    import pandas as pd

    rows = [row for pair in replay_pairs(turns, bot) for row in differences(*pair)]
    return pd.DataFrame(rows, columns=COLUMNS)


def replay_pairs(turns: Iterable[Turn | Mapping[str, Any]], bot: Bot) -> list[tuple[Turn, Turn]]:
    """``(recorded, replayed)`` for each turn, in order; states are plain dicts."""
    recorded = [as_turn(turn) for turn in turns]
    if not recorded:
        raise HistoryError("There are no recorded turns to replay; chat with the bot first.")
    return run_sync(_replay(recorded, bot))


def differences(recorded: Turn, actual: Turn) -> list[tuple[Any, ...]]:
    """The rows of :func:`replay` for one turn."""
    rows: list[tuple[Any, ...]] = []
    expected_replies, actual_replies = list(recorded.replies), list(actual.replies)
    for position in range(max(len(expected_replies), len(actual_replies))):
        expected = expected_replies[position] if position < len(expected_replies) else MISSING
        got = actual_replies[position] if position < len(actual_replies) else MISSING
        if expected != got:
            rows.append((recorded.index, "reply", position, expected, got))
    expected_state, actual_state = dict(recorded.state), dict(actual.state)
    for key in [*expected_state, *(k for k in actual_state if k not in expected_state)]:
        expected, got = expected_state.get(key, MISSING), actual_state.get(key, MISSING)
        if expected != got:
            rows.append((recorded.index, "state", key, expected, got))
    return rows


def as_turn(turn: Turn | Mapping[str, Any]) -> Turn:
    """A recorded turn as a :class:`Turn` with plain (thawed) states."""
    if not isinstance(turn, Turn):
        turn = Turn.from_record(turn, where="a recorded turn")
    turn.state_before, turn.state = thaw(turn.state_before or {}), thaw(turn.state or {})
    return turn


class _RecordedClock:
    """The twin's clock: the time of the turn being replayed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _replay(recorded: list[Turn], bot: Bot) -> list[tuple[Turn, Turn]]:
    clock = _RecordedClock()
    twin = Bot(bot.action, initial_state=thaw(bot.initial_state), history=len(recorded) + 1,
               session_store=MemorySessionStore(), clock=clock)
    session_id = recorded[0].session_id or f"{recorded[0].platform}:1"
    states: dict[int | None, Any] = {}  # recorded index -> the state the replay gave it
    if recorded[0].state_before != thaw(bot.initial_state):  # the kept history starts later
        clock.now = recorded[0].time
        await _set_state(twin, session_id, recorded[0], recorded[0].state_before, "reset")
    pairs = []
    for turn in recorded:
        clock.now = turn.time
        if turn.kind == "event":
            actual = await twin.handle_event(turn.raw, turn.platform, session_id=session_id)
            if actual is None:  # the platform ignores it now
                actual = Turn(session_id, turn.platform, turn.time, state=states.get(None, {}))
        else:
            target = turn.raw.get("rewind", {}).get("to") if isinstance(turn.raw, dict) else None
            state = states.get(target, turn.state) if turn.kind == "rewind" else turn.state
            if turn.kind == "reset":
                state = thaw(bot.initial_state)
            elif turn.kind == "fork":
                state = states.get(None, turn.state)
            actual = await _set_state(twin, session_id, turn, state, turn.kind)
        actual.state = thaw(actual.state)
        states[turn.index] = states[None] = actual.state
        pairs.append((turn, actual))
    return pairs


async def _set_state(twin: Bot, session_id: str, turn: Turn, state: Any, kind: str) -> Turn:
    """Apply a rewind, fork or reset (or the state a kept history starts from) to the twin."""
    applied = await twin.apply_state(session_id, state, kind=kind, raw=turn.raw)
    assert applied is not None
    return applied
