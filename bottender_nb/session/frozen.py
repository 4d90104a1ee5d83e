"""Read-only views of session state, so direct mutation fails with a lesson.

Bottender only warns when ``context.state`` is mutated; we refuse, because a mutation that
silently skips ``set_state`` is the classic lost-update bug learners hit. The frozen types are
``dict``/``list`` subclasses, so ``json.dumps``, ``==`` and ``isinstance`` work unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NoReturn

HOW_TO_CHANGE = (
    "context.state is read-only: call context.set_state({{{key!r}: ...}}) to change it "
    "(set_state merges shallowly; build a new nested dict or list for deeper changes)."
)


def _refuse(key: object = "key") -> NoReturn:
    from ..errors import StateError

    raise StateError(HOW_TO_CHANGE.format(key=key))


class FrozenDict(dict):
    """A dict that refuses every mutation with a message pointing at ``set_state``."""

    __slots__ = ()

    def __setitem__(self, key: Any, value: Any) -> NoReturn:
        _refuse(key)

    def __delitem__(self, key: Any) -> NoReturn:
        _refuse(key)

    def __ior__(self, other: Any) -> NoReturn:
        _refuse()

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(next(iter(kwargs), "key"))

    def setdefault(self, key: Any, default: Any = None) -> NoReturn:
        _refuse(key)

    def pop(self, key: Any, *default: Any) -> NoReturn:
        _refuse(key)

    def popitem(self) -> NoReturn:
        _refuse()

    def clear(self) -> NoReturn:
        _refuse()

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

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()

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
    """A deep, read-only copy of a JSON-like value (dicts and lists become frozen)."""
    if type(value) in _SCALARS or type(value) is FrozenDict:  # frozen values are shared safely
        return value
    if isinstance(value, Mapping):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A deep, plain (mutable) copy of a frozen value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return copy.copy(value)
