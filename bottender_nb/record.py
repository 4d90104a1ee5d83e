"""The stored session record, in Bottender's shape, and its JSON boundary.

A record looks like ``{"id": "console:1", "platform": "console", "user": {"id": "1"},
"_state": {...}, "lastActivity": <epoch ms>}`` plus any other field Bottender keeps
(``page``, ``channel``, ``group``, ``room`` ...), which read-modify-write preserves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .errors import CorruptSessionError, StateError
from .frozen import FrozenDict, FrozenList

try:  # orjson is a core dependency; the stdlib is the fallback for what orjson refuses
    import orjson
except ImportError:  # pragma: no cover - only without the dependency installed
    orjson = None

STATE_FIELD = "_state"
LAST_ACTIVITY_FIELD = "lastActivity"


# Built once: json.dumps with non-default options would build a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class CheckedRecord(dict):
    """A record the runner assembled from parts already known to be JSON-safe.

    Those parts are the stored record as a store's read returned it, the platform's
    ``user``/``group`` fields (ids as str), the frozen state (checked by ``set_state``) and
    ``lastActivity``. An action cannot add anything to it: ``context.session`` hands out
    copies. So :func:`dumps` skips its walk over such a record, the largest cost of writing one.
    """

    __slots__ = ()


# orjson would quietly write a datetime as a string and a dataclass as an object; this way
# they raise, and the stdlib path names what is wrong.
_STRICT = 0 if orjson is None else orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(record: Mapping[str, Any]) -> str:
    """Compact JSON, as Bottender's stores write it; raise StateError naming a bad state key.

    Everything is checked first, because orjson would quietly turn a UUID into a string and
    NaN into null; frozen state (checked when it was set) and a :class:`CheckedRecord` are
    not walked again.
    """
    if type(record) is not CheckedRecord:
        state = record.get(STATE_FIELD)
        if type(state) is not FrozenDict and isinstance(state, Mapping):
            check_json_state(state)
        problem = _json_problem(record)
        if problem is not None:
            where, what = problem
            raise StateError(
                f"The session field {where} holds {what}, which is not JSON-serialisable."
            )
    if orjson is not None:
        try:
            return orjson.dumps(record, option=_STRICT).decode()
        except TypeError:
            pass  # e.g. an int beyond 64 bits: the stdlib encodes it, or names what is wrong
    try:
        return _ENCODER.encode(record)
    except (TypeError, ValueError) as exc:
        raise StateError(_describe_unserialisable(record, exc)) from exc


def dumps_utf8(record: Mapping[str, Any]) -> bytes:
    """:func:`dumps` as the UTF-8 bytes a file or a Redis value holds.

    A lone surrogate (which UTF-8 cannot carry) is escaped as ``\\udXXX``, as JavaScript's
    ``JSON.stringify`` writes it.
    """
    text = dumps(record)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(json.loads(text), separators=(",", ":")).encode()


def loads(text: str | bytes, *, where: str) -> dict[str, Any]:
    """Parse one stored session; ``where`` names the file or key in the error."""
    try:
        record = parse(text)
    except ValueError as exc:
        raise CorruptSessionError(f"{where} is not valid JSON ({exc}); fix or delete it.") from exc
    if not isinstance(record, dict):
        raise CorruptSessionError(
            f"{where} holds a JSON {type(record).__name__}, not a session object; fix or delete it."
        )
    return record


def parse(text: str | bytes) -> Any:
    """JSON text -> Python, fast; raises ValueError on invalid JSON.

    orjson reads an integer beyond 64 bits as a float, silently: text with a run of 19 or
    more digits (which such an integer has) goes to the stdlib, which keeps it exact.
    """
    if orjson is not None:
        data = text if type(text) is bytes else text.encode("utf-8", "surrogatepass")
        if _LONG_NUMBER not in data.translate(_DIGITS_AS_ZERO):
            try:
                return orjson.loads(data)  # the bytes just checked: no second UTF-8 encode
            except ValueError:
                pass  # invalid JSON (or a lone surrogate): let the stdlib say what it is
    return json.loads(text)


_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def copy_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy through JSON, so every store round-trips exactly like a persistent one."""
    return parse(dumps(record))


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
        problem = _json_problem(value)
        if problem is not None:
            where, what = problem
            raise StateError(
                f"State key {key!r}{where} holds {what}, which is not JSON-serialisable; "
                "store plain dicts (with str keys), lists, str, int, finite float, bool or "
                "None. The session keeps its previous state."
            )


def _json_problem(value: Any) -> tuple[str, str] | None:
    """``(path, description)`` of the first part of ``value`` JSON cannot carry exactly.

    The path (``['user']['id']``) is built only once a problem is found: this walk runs on
    every write, and formatting a path for every nested value would double its cost.
    """
    problem = _problem(value)
    if problem is None:
        return None
    path, what = problem
    return "".join(reversed(path)), what


def _problem(value: Any) -> tuple[list[str], str] | None:
    kind = type(value)
    if kind in _LEAVES:
        return None
    if kind is float or isinstance(value, float):
        return None if math.isfinite(value) else ([], f"the float {value!r}")
    if isinstance(value, (str, int)):  # bool is an int; str/int subclasses encode as their base
        return None
    if kind is dict or isinstance(value, Mapping):
        for key in value:
            if type(key) is not str and not isinstance(key, str):
                return [], f"a dict with the non-str key {key!r}"
        return _first_problem(value.items(), "[{!r}]")
    if isinstance(value, (list, tuple)):
        return _first_problem(enumerate(value), "[{}]")
    return [], f"{type(value).__name__} {value!r:.60}"


def _first_problem(items: Any, step: str) -> tuple[list[str], str] | None:
    """The first problem among ``(key or index, item)`` pairs, its path one ``step`` longer."""
    for where, item in items:
        if type(item) not in _LEAVES:
            problem = _problem(item)
            if problem is not None:
                problem[0].append(step.format(where))
                return problem
    return None


def _describe_unserialisable(record: Mapping[str, Any], exc: Exception) -> str:
    state = record.get(STATE_FIELD)
    if isinstance(state, Mapping):
        try:
            check_json_state(state)
        except StateError as named:
            return str(named)
    return f"The session record is not JSON-serialisable ({exc})."
