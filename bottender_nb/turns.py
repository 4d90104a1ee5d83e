"""A turn: one handled event (or a rewind, fork or reset) in a session's history.

Below both the runner, which makes turns, and the stores, which keep them: a store keeps a
turn as the JSON object :meth:`Turn.as_record` gives and hands it back through
:meth:`Turn.from_record`, which is the one check of a stored turn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BodyError, CorruptSessionError, StateError
from .json_values import MAX_DEPTH, json_problem

KINDS = ("event", "rewind", "fork", "reset")
"""What made a turn: an event the bot handled, or one of the time-travel verbs."""

FIELDS = (
    "session_id", "index", "time", "kind", "platform", "text", "payload", "raw", "replies",
    "state_before", "state", "changed",
)


@dataclass(slots=True)
class Turn:
    """One step of a session: what came in, what went out, the state before and after.

    ``index`` counts a session's turns from 0 and is never reused (None for a turn that was
    not kept: no session, or ``history=0``). ``time`` is epoch seconds. ``changed`` names the
    top-level state keys whose value changed.
    """

    session_id: str | None
    platform: str
    time: float
    kind: str = "event"
    text: str | None = None
    payload: str | None = None
    raw: Any = None
    replies: list[str] = field(default_factory=list)
    state_before: Mapping[str, Any] = field(default_factory=dict)
    state: Mapping[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    index: int | None = None

    def as_record(self) -> dict[str, Any]:
        """The JSON object a store keeps; with ``index`` once a store gave the turn one (a turn
        being committed has none yet: its store assigns it). It shares the turn's values (a
        store encodes it at once): copy it to change it."""
        record = {  # a literal, not a loop over FIELDS: this runs once per event
            "session_id": self.session_id, "time": self.time,
            "kind": self.kind, "platform": self.platform, "text": self.text,
            "payload": self.payload, "raw": self.raw, "replies": self.replies,
            "state_before": self.state_before, "state": self.state, "changed": self.changed,
        }
        if self.index is not None:
            record["index"] = self.index
        return record

    @classmethod
    def from_record(cls, record: Any, *, where: str) -> Turn:
        """A stored turn back; :class:`CorruptSessionError` naming ``where`` if it is not one."""
        if not isinstance(record, Mapping):
            raise CorruptSessionError(
                f"{where} holds a JSON {type(record).__name__}, not a turn object; fix or delete it."
            )
        problem = record_problem(record)
        if problem:
            raise CorruptSessionError(f"{where} is not a valid turn: {problem}; fix or delete it.")
        return cls(**{name: record.get(name) for name in FIELDS if name in record})


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Top-level keys added, removed or given another value, in the order they appear."""
    if before is after:
        return []
    keys, kept = [], 0  # kept: keys of ``before`` still in ``after``
    for key, value in after.items():
        if key not in before:
            keys.append(key)
        else:
            kept += 1
            if before[key] != value:
                keys.append(key)
    if kept < len(before):  # some were removed: only then look for them
        keys += [key for key in before if key not in after]
    return keys


def copy_raw(raw: Any) -> Any:
    """A private JSON copy of an event body, for its turn; StateError if JSON cannot carry it.

    Called before the event runs: the turn keeps the event, and an event it could not keep
    is refused whole, not after its session was written. Every other part of a turn is
    checked where it is made (state by ``set_state``, text by the platform). The copy keeps
    the turn apart from the caller's dict, which may be changed or reused afterwards.
    """
    try:
        return _plain_copy(raw)
    except _NotPlain:
        pass
    except RecursionError:
        raise BodyError(
            f"The event body is nested more deeply than {MAX_DEPTH} levels, which no webhook "
            "sends; send the platform's own body."
        ) from None
    problem = json_problem(raw)
    if problem is not None:
        where, what = problem
        raise StateError(
            f"The event{where} holds {what}, which is not JSON-serialisable, and its turn keeps "
            "the event as JSON; send a JSON body (as a webhook's is), or use Bot(..., history=0). "
            "Nothing was run or stored."
        )
    return json.loads(json.dumps(raw, ensure_ascii=False))  # a tuple, a Mapping: made plain


class _NotPlain(Exception):
    """Raised inside :func:`_plain_copy`: the value needs the walk that names problems."""


def _plain_copy(value: Any) -> Any:
    """A copy of what webhook bodies are made of (dicts with str keys, lists, str, int, bool,
    None, finite floats): the common case, in one pass and a third of the general walk's cost."""
    kind = type(value)
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            leaf = type(item)
            plain = leaf is str or leaf is int or leaf is bool or item is None
            copy[key] = item if plain else _plain_copy(item)
        return copy
    if kind is list:
        return [_plain_copy(item) for item in value]
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float and math.isfinite(value):
        return value
    raise _NotPlain


def record_problem(record: Mapping[str, Any]) -> str:
    """Why a stored record is not a turn ("" when it is one): from_record's and turns_frame's check."""
    index, time, kind = record.get("index"), record.get("time"), record.get("kind")
    if not (type(index) is int and index >= 0):
        return f"index {index!r} is not a non-negative int"
    if isinstance(time, bool) or not isinstance(time, (int, float)):
        return f"time {time!r} is not a number"
    if kind not in KINDS:
        return f"kind {kind!r} is not one of {', '.join(KINDS)}"
    for name in ("state_before", "state"):
        if not isinstance(record.get(name, {}), Mapping):
            return f"{name} is not an object"
    for name in ("replies", "changed"):
        if not isinstance(record.get(name, []), list):
            return f"{name} is not a list"
    return ""
