"""Which Python values JSON carries exactly: the one walk that names the first it does not.

State is checked by it when it is set (``set_state``, ``initial_state``), a record before it
is written, and an event's body before its turn is kept. The walk is iterative, so a value
nested thousands deep is reported, never a RecursionError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import StateError
from .frozen import FrozenDict, FrozenList

PLAIN_JSON_TYPES = frozenset({str, int, bool, type(None)})  # stored as they are, no walk
# Values that need no walk: JSON scalars, and frozen state (checked when it was set).
_LEAVES = frozenset({str, int, bool, type(None), FrozenDict, FrozenList})


def check_json_state(state: Mapping[str, Any]) -> None:
    """Raise StateError naming the first key whose value would not survive a JSON round trip."""
    for key, value in state.items():
        if not isinstance(key, str):
            raise StateError(f"State keys must be strings; got {key!r}. Use a str key.")
        if type(value) in PLAIN_JSON_TYPES:
            continue
        problem = json_problem(value)
        if problem is not None:
            where, what = problem
            if what.startswith("nesting deeper"):
                raise StateError(
                    f"State key {key!r} is nested deeper than {MAX_DEPTH} levels; "
                    f"keep state within {MAX_DEPTH} levels, e.g. a list of items instead of "
                    "ever deeper dicts. The session keeps its previous state."
                )
            raise StateError(
                f"State key {key!r}{where} holds {what}, which is not JSON-serialisable; "
                "store plain dicts (with str keys), lists, str, int, finite float, bool or "
                "None. The session keeps its previous state."
            )


# How deep state may nest. The walks here and in frozen.py are iterative and go any depth,
# but the stdlib JSON encoder (which writes what orjson's 254 levels cannot) recurses, with
# room for about 990 levels less the caller's stack; 512 keeps that room in a notebook.
MAX_DEPTH = 512


def json_problem(value: Any, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """``(path, description)`` of the first part of ``value`` JSON cannot carry exactly.

    An explicit stack, not recursion, so a value nested thousands deep is reported (as
    deeper than ``max_depth``), not a RecursionError. The path (``['user']['id']``) is built
    only once a problem is found: this walk runs on every write.
    """
    what = _problem(value)
    if what is not _CONTAINER:
        return None if what is None else ("", what)
    keys: list[Any] = []  # the key or index taken at each level of ``stack``
    stack = [_children(value)]
    while stack:
        for where, item in stack[-1][1]:
            kind = type(item)
            if kind in _LEAVES:
                continue
            if kind is list:  # the common containers skip _problem's checks
                what = _CONTAINER
            elif kind is dict and all(type(key) is str for key in item):
                what = _CONTAINER
            else:
                what = _problem(item)
                if what is None:
                    continue
            keys.append(where)
            if what is not _CONTAINER:
                return _path(stack, keys), what
            if len(stack) >= max_depth:
                return _path(stack, keys), f"nesting deeper than {max_depth} levels"
            stack.append(("[{!r}]", iter(item.items())) if kind is dict else _children(item))
            break
        else:
            stack.pop()
            if keys:
                keys.pop()
    return None


_CONTAINER = "container"  # _problem's answer for a dict or list whose items must be walked


def _problem(value: Any) -> str | None:
    """What JSON cannot carry about ``value`` itself; _CONTAINER for a dict/list to walk."""
    kind = type(value)
    if kind in _LEAVES:
        return None
    if kind is float or isinstance(value, float):
        return None if math.isfinite(value) else f"the float {value!r}"
    if isinstance(value, (str, int)):  # bool is an int; str/int subclasses encode as their base
        return None
    if kind is dict or isinstance(value, Mapping):
        for key in value:
            if type(key) is not str and not isinstance(key, str):
                return f"a dict with the non-str key {key!r:.60}"
        return _CONTAINER
    if isinstance(value, (list, tuple)):
        return _CONTAINER
    return f"{type(value).__name__} {value!r:.60}"


def _children(value: Any) -> tuple[str, Any]:
    """``(step format, iterator of (key or index, item))`` of a dict or list."""
    if isinstance(value, Mapping):
        return "[{!r}]", iter(value.items())
    return "[{}]", iter(enumerate(value))


def _path(stack: list[tuple[str, Any]], keys: list[Any]) -> str:
    """``['user']['id']``; a very deep path shows its first steps and its depth."""
    steps = [fmt.format(key) for (fmt, _), key in zip(stack, keys[:8])]
    if len(keys) > 8:
        steps.append(f"...({len(keys)} levels)")
    return "".join(steps)
