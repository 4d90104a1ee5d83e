"""What an action sees: the event, the session, its state, and a way to reply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import StateError
from ..platforms.base import Event
from ..frozen import FrozenDict, freeze, freeze_field, thaw
from ..record import LAST_ACTIVITY_FIELD, PLAIN_JSON_TYPES, check_json_state


@dataclass(frozen=True, slots=True)
class Reply:
    """One message the bot sent; ``str(reply)`` is its text."""

    text: str
    session_id: str | None = None

    def __str__(self) -> str:
        return self.text


class Session:
    """The stored session of one conversation, in Bottender's shape; read-only.

    Fields are handed out as copies: what an action changes in them is not stored (the state
    changes through ``context.set_state``), so the record written after the event holds
    only what the runner put there.
    """

    __slots__ = ("_record",)

    def __init__(self, record: dict[str, Any]) -> None:
        self._record = record

    @property
    def id(self) -> str:
        return self._record["id"]

    @property
    def platform(self) -> str:
        return self._record["platform"]

    @property
    def user(self) -> dict[str, Any] | None:
        return self.get("user")

    @property
    def last_activity(self) -> int | None:
        """Epoch milliseconds of the last handled event, as Bottender stores it."""
        return self._record.get(LAST_ACTIVITY_FIELD)

    def __getitem__(self, field: str) -> Any:
        return thaw(self._record[field])

    def get(self, field: str, default: Any = None) -> Any:
        return thaw(self._record[field]) if field in self._record else default

    def as_dict(self) -> dict[str, Any]:
        """A copy of the whole record."""
        return thaw(self._record)

    def __repr__(self) -> str:
        return f"Session(id={self.id!r})"


class Context:
    """``context`` in an action: ``state``, ``set_state``, ``reset_state``, ``send_text``."""

    def __init__(
        self,
        *,
        platform: str,
        event: Event,
        session: Session | None,
        initial_state: FrozenDict,
        state: FrozenDict | None = None,
        no_session_reason: str = "",
    ) -> None:
        """``state`` is the session's state, frozen; empty for an event without a session."""
        self.platform = platform
        self.event = event
        self.session = session
        self.replies: list[Reply] = []
        self._initial_state = initial_state
        self._no_session_reason = no_session_reason
        self._state = FrozenDict() if state is None else state

    @property
    def state(self) -> FrozenDict:
        """The session's state; read-only: change it with :meth:`set_state`."""
        return self._state

    @state.setter
    def state(self, value: object) -> None:
        raise StateError(
            "context.state cannot be assigned: call context.set_state({...}) to merge fields "
            "or context.reset_state() to start over."
        )

    def set_state(self, mapping: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Shallow-merge ``mapping`` and ``fields`` into the state (nested dicts are replaced)."""
        if type(mapping) is dict and not fields:  # the common call: set_state({...})
            changes = mapping
        elif mapping is not None and not isinstance(mapping, Mapping):
            raise StateError(
                f"set_state takes a mapping of fields, not {type(mapping).__name__} {mapping!r:.60}; "
                "e.g. context.set_state({'count': 1}) or context.set_state(count=1)."
            )
        else:
            changes = {**(mapping or {}), **fields}
        self._require_session("set_state")
        self._state = merged_state(self._state, changes)

    def reset_state(self) -> None:
        """Back to a fresh copy of ``initial_state``."""
        self._require_session("reset_state")
        self._state = freeze(self._initial_state)

    async def send_text(self, text: str) -> None:
        """Reply with a text message."""
        session_id = None if self.session is None else self.session.id
        self.replies.append(Reply(str(text), session_id))

    # Bottender spellings, so code ported from its docs runs unchanged.
    setState = set_state  # noqa: N815
    resetState = reset_state  # noqa: N815
    sendText = send_text  # noqa: N815

    def _require_session(self, verb: str) -> None:
        if self.session is None:
            raise StateError(
                f"{verb} needs a session, but this event has none ({self._no_session_reason}); "
                "only events from which a session key can be derived carry state."
            )


def merged_state(state: FrozenDict, changes: Mapping[str, Any]) -> FrozenDict:
    """``state`` with ``changes`` merged in, checked and frozen; a bad value changes nothing.

    Fields of plain JSON scalars, what most bots set, skip the check and the freeze.
    """
    for key, value in changes.items():
        if type(value) not in PLAIN_JSON_TYPES or type(key) is not str:
            check_json_state(changes)  # raises StateError naming the key
            changes = {key: freeze_field(value, key) for key, value in changes.items()}
            break
    return FrozenDict({**state, **changes})
