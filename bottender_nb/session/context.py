"""What an action sees: the event, the session, its state, and a way to reply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from ..errors import StateError
from ..platforms.base import Event
from ..frozen import FrozenDict, freeze, freeze_field, thaw
from ..json_values import PLAIN_JSON_TYPES, check_json_state
from ..record import LAST_ACTIVITY_FIELD
from .replies import Delivery, Reply, Sending

__all__ = ["Context", "Reply", "Session", "SessionField", "merged_state"]


class SessionField(dict):
    """A stored session field read as in Bottender: ``session.user.id`` as well as
    ``session.user["id"]``; nested objects read the same way. A read-only copy: the session
    is written by the runner, so a change here would be lost and is refused instead.
    """

    __slots__ = ("_path",)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_path":
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            fields = ", ".join(map(str, self)) or "none"
            raise AttributeError(
                f"{self._path} has no field {name!r}; its fields are: {fields}"
            ) from None

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise StateError(f"{self._path} is read-only: the session is stored by the runner; "
                         "keep your own data in the state with context.set_state(...).")

    __setitem__ = __delitem__ = __setattr__ = __delattr__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        """Copies and pickles are plain dicts: they are the caller's to change."""
        return (dict, (thaw(dict(self)),))


def _field_view(value: Any, path: str) -> Any:
    """``value`` with its objects as :class:`SessionField` views (lists copied as lists)."""
    if isinstance(value, Mapping):
        view = SessionField({key: _field_view(item, f"{path}.{key}") for key, item in value.items()})
        object.__setattr__(view, "_path", path)
        return view
    if isinstance(value, list):
        return [_field_view(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return thaw(value)


class Session:
    """The stored session of one conversation, in Bottender's shape; read-only.

    Fields read as in Bottender, ``session.user.id`` (and ``.group``, ``.room``, ``.channel``,
    ``.page``: None when the conversation has none), or as ``session["user"]["id"]``. They are
    read-only copies: the state changes through ``context.set_state``, so the record written
    after the event holds only what the runner put there.
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
    def user(self) -> SessionField | None:
        return self.get("user")

    @property
    def group(self) -> SessionField | None:
        """A LINE or Telegram group (None in a private chat)."""
        return self.get("group")

    @property
    def room(self) -> SessionField | None:
        """A LINE room (None elsewhere)."""
        return self.get("room")

    @property
    def channel(self) -> SessionField | None:
        """A Slack or Telegram channel."""
        return self.get("channel")

    @property
    def page(self) -> SessionField | None:
        """A Messenger page."""
        return self.get("page")

    @property
    def last_activity(self) -> int | None:
        """Epoch milliseconds of the last handled event, as Bottender stores it."""
        return self._record.get(LAST_ACTIVITY_FIELD)

    def __getattr__(self, name: str) -> Any:
        """Any other stored field, e.g. ``session.lastActivity``; a missing one names those
        that exist."""
        if name.startswith("__") or name == "_record":
            raise AttributeError(name)
        if name in self._record:
            return self[name]
        fields = ", ".join(field for field in self._record if not field.startswith("_"))
        raise AttributeError(f"context.session has no field {name!r}; its fields are: "
                             f"{fields} (and the state is context.state)")

    def __getitem__(self, field: str) -> Any:
        return _field_view(self._record[field], f"context.session.{field}")

    def get(self, field: str, default: Any = None) -> Any:
        return self[field] if field in self._record else default

    def as_dict(self) -> dict[str, Any]:
        """A copy of the whole record."""
        return thaw(self._record)

    def __repr__(self) -> str:
        return f"Session(id={self.id!r})"


class Context:
    """``context`` in an action: ``state``, ``set_state``, ``reset_state``, ``send_text``."""

    def __init__(
        self,
        platform: str,
        event: Event,
        session: Session | None,
        initial_state: FrozenDict,
        state: FrozenDict | None = None,
        delivery: Delivery | None = None,
        no_session_reason: str = "",
    ) -> None:
        """``state`` is the session's state, frozen; empty for an event without a session.

        ``delivery``: the channel the event came through, which sends each reply to the user.
        """
        self.platform = platform
        self.event = event
        self.session = session
        self.replies: list[Reply] = []
        self.sendings: list[Sending] = []
        self._delivery = delivery
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
        if self.session is None:
            raise self._no_session("set_state")
        self._state = merged_state(self._state, changes)

    def reset_state(self) -> None:
        """Back to a fresh copy of ``initial_state``."""
        if self.session is None:
            raise self._no_session("reset_state")
        self._state = freeze(self._initial_state)

    def send_text(self, text: str) -> Sending:
        """Reply with a text message: ``await context.send_text("Hi")``."""
        sending = Sending(str(text), self._send(str(text)))
        self.sendings.append(sending)
        return sending

    async def _send(self, text: str) -> None:
        if self._delivery is not None:  # a real user: the platform's API first
            await self._delivery.send_text(self.event.raw, text)
        self.replies.append(Reply(text, None if self.session is None else self.session.id))

    # Bottender spellings, so code ported from its docs runs unchanged.
    setState = set_state  # noqa: N815
    resetState = reset_state  # noqa: N815
    sendText = send_text  # noqa: N815

    def _no_session(self, verb: str) -> StateError:
        """Why ``verb`` cannot run: this event has no session."""
        return StateError(
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
