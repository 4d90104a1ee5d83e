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
        frozen = FrozenDict(value)  # one copy; only the fields that hold containers are redone
        for key, item in value.items():
            if type(item) not in _SCALARS:
                dict.__setitem__(frozen, key, freeze_field(item, key))
        return frozen
    return value


def freeze_field(value: Any, top: str) -> Any:
    """A read-only copy of the state field ``top``; its errors name the field."""
    kind = type(value)
    if kind in _SCALARS or ((kind is FrozenDict or kind is FrozenList) and _top_of(value) == top):
        return value
    return _copy_tree(value, frozen_top=top)


def thaw(value: Any) -> Any:
    """A deep, plain (mutable) copy of a frozen value."""
    return _copy_tree(value)


def _copy_tree(value: Any, frozen_top: str | None = None) -> Any:
    """A deep copy of nested mappings and lists (tuples become lists).

    With ``frozen_top``, into frozen containers of that state field (frozen values already of
    that field are shared); else into plain ones, other values through ``copy.copy``. An
    explicit stack rather than recursion, so state nested any depth (a stored file can hold
    what V8 wrote) is copied, not a RecursionError.
    """
    frozen = frozen_top is not None
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (source, target, slot in target)
    while stack:
        source, target, slot = stack.pop()
        kind = type(source)
        if frozen and (kind is FrozenDict or kind is FrozenList) and source._top == frozen_top:
            made = source
        elif kind is dict or kind is FrozenDict or isinstance(source, Mapping):
            made = FrozenDict() if frozen else {}
            for key, item in source.items():
                if type(item) in _SCALARS:
                    dict.__setitem__(made, key, item)
                else:
                    dict.__setitem__(made, key, None)  # keeps the key's place; filled below
                    stack.append((item, made, key))
        elif kind is list or kind is FrozenList or isinstance(source, (list, tuple)):
            made = FrozenList(source) if frozen else list(source)
            for index, item in enumerate(source):
                if type(item) not in _SCALARS:
                    stack.append((item, made, index))
        else:
            made = source if frozen else copy.copy(source)
        if frozen and made is not source:
            made._top = frozen_top
        if type(target) is dict or type(target) is FrozenDict:
            dict.__setitem__(target, slot, made)
        else:
            list.__setitem__(target, slot, made)
    return root[0]
