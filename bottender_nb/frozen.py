"""Read-only views of session state, so direct mutation fails with a lesson.

Bottender only warns when ``context.state`` is mutated; we refuse, because a mutation that
silently skips ``set_state`` is the classic lost-update bug learners hit. The frozen types are
``dict``/``list`` subclasses, so ``json.dumps``, ``==`` and ``isinstance`` work unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NoReturn


def _refuse(key: object = "key", top: str | None = None, kind: str = "dict") -> NoReturn:
    """Raise the lesson: top-level fields change through set_state; nested ones are rebuilt."""
    from .errors import StateError

    if top is None:
        message = (
            f"context.state is read-only: call context.set_state({{{key!r}: ...}}) to change it "
            "(set_state merges shallowly)."
        )
    else:
        example = (
            f"{{**context.state[{top!r}], 'field': value}}" if kind == "dict"
            else f"context.state[{top!r}] + [item]"
        )
        message = (
            f"context.state[{top!r}] is part of the read-only state: build a new value and set "
            f"it, e.g. context.set_state({{{top!r}: {example}}})."
        )
    raise StateError(message)


def _top_of(value: FrozenDict | FrozenList) -> str | None:
    """The top-level state key a frozen value sits under; None for the state itself."""
    return getattr(value, "_top", None)


class FrozenDict(dict):
    """A dict that refuses every mutation with a message pointing at ``set_state``.

    No ``__init__`` of its own: building one costs what building a dict costs, as the
    runner builds one per event. ``_top`` is set only on values nested under a state key.
    """

    __slots__ = ("_top",)  # the top-level state key this value sits under (unset: the state)

    def __setitem__(self, key: Any, value: Any) -> NoReturn:
        _refuse(key, _top_of(self))

    def __delitem__(self, key: Any) -> NoReturn:
        _refuse(key, _top_of(self))

    def __ior__(self, other: Any) -> NoReturn:
        _refuse("key", _top_of(self))

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(next(iter(kwargs), "key"), _top_of(self))

    def setdefault(self, key: Any, default: Any = None) -> NoReturn:
        _refuse(key, _top_of(self))

    def pop(self, key: Any, *default: Any) -> NoReturn:
        _refuse(key, _top_of(self))

    def popitem(self) -> NoReturn:
        _refuse("key", _top_of(self))

    def clear(self) -> NoReturn:
        _refuse("key", _top_of(self))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (thaw(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


class FrozenList(list):
    """A list that refuses in-place changes; ``lst + [x]`` still returns a new plain list."""

    __slots__ = ("_top",)

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("key", _top_of(self), "list")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (thaw(self),))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """A deep, read-only copy of a JSON-like state (dicts and lists become frozen)."""
    if type(value) is FrozenDict:  # frozen values are shared safely
        return value
    if type(value) is dict or isinstance(value, Mapping):
        return FrozenDict({
            key: item if type(item) in _SCALARS else freeze_field(item, key)
            for key, item in value.items()
        })
    return value


def freeze_field(value: Any, top: str) -> Any:
    """A read-only copy of the state field ``top``; its errors name the field."""
    kind = type(value)
    if kind in _SCALARS or ((kind is FrozenDict or kind is FrozenList) and _top_of(value) == top):
        return value
    if type(value) is dict or isinstance(value, Mapping):
        frozen: FrozenDict | FrozenList = FrozenDict(
            {key: freeze_field(item, top) for key, item in value.items()}
        )
    elif isinstance(value, (list, tuple)):
        frozen = FrozenList(freeze_field(item, top) for item in value)
    else:
        return value
    frozen._top = top
    return frozen


def thaw(value: Any) -> Any:
    """A deep, plain (mutable) copy of a frozen value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return copy.copy(value)
