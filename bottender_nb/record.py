"""The stored session record, in Bottender's shape, and its JSON boundary.

A record looks like ``{"id": "console:1", "platform": "console", "user": {"id": "1"},
"_state": {...}, "lastActivity": <epoch ms>}`` plus any other field Bottender keeps
(``page``, ``channel``, ``group``, ``room`` ...), which read-modify-write preserves.

Every store turns stored bytes (or a document) into a record through :func:`loads` /
:func:`validate_record`, the one check at that edge: what is not a record is a
``CorruptSessionError`` naming where it is, never reset. ``sessions_frame`` uses the same
:func:`record_problem`, so the store and the analysis agree on what is invalid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import CorruptSessionError, StateError
from .frozen import FrozenDict
from .json_values import MAX_DEPTH, check_json_state, json_problem

try:  # orjson is a core dependency; the stdlib is the fallback for what orjson refuses
    import orjson
except ImportError:  # pragma: no cover - only without the dependency installed
    orjson = None

STATE_FIELD = "_state"
LAST_ACTIVITY_FIELD = "lastActivity"


# Built once: json.dumps with non-default options would build a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# orjson would quietly write a datetime as a string and a dataclass as an object; this way
# they raise, and the stdlib path names what is wrong.
_STRICT = 0 if orjson is None else orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(record: Mapping[str, Any]) -> str:
    """Compact JSON, as Bottender's stores write it; raise StateError naming a bad state key.

    Everything is checked first, because orjson would quietly turn a UUID into a string and
    NaN into null; frozen state (checked when it was set) is not walked again.
    """
    _check_record(record)
    if orjson is not None:
        try:
            return orjson.dumps(record, option=_STRICT).decode()
        except TypeError:
            pass  # e.g. an int beyond 64 bits: the stdlib encodes it, or names what is wrong
    try:
        return _ENCODER.encode(record)
    except (TypeError, ValueError) as exc:
        raise StateError(_describe_unserialisable(record, exc)) from exc
    except RecursionError:  # only a stored record read deeper than set_state allows
        raise CorruptSessionError(
            f"The session {record.get('id')!r} is nested too deeply for Python's JSON encoder "
            f"(state may nest {MAX_DEPTH} levels); fix or delete its stored record."
        ) from None


def dumps_utf8(record: Mapping[str, Any]) -> bytes:
    """:func:`dumps` as the UTF-8 bytes a file or a Redis value holds.

    A lone surrogate (which UTF-8 cannot carry) is escaped as ``\\udXXX``, as JavaScript's
    ``JSON.stringify`` writes it.
    """
    if orjson is not None:
        _check_record(record)
        try:
            return orjson.dumps(record, option=_STRICT)  # UTF-8 already: no str in between
        except TypeError:
            pass  # a lone surrogate or an int beyond 64 bits: the path below
    text = dumps(record)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(json.loads(text), separators=(",", ":")).encode()


def encode_record(record: Mapping[str, Any]) -> bytes:
    """A record the runner made, as :func:`dumps_utf8` writes it, checking only its state,
    and that only when it is not frozen.

    The other parts were checked where they came in: the session fields by the platform,
    the rest when the store read them; frozen state by ``set_state`` (or ``initial_state``).
    Walking them again at every write would check each value twice per event. A record
    from anywhere else (``store.write``) goes through :func:`dumps_utf8`, the whole check.
    """
    state = record.get(STATE_FIELD)
    if type(state) is not FrozenDict:  # e.g. a rewind's state, or one set past set_state
        _check_record(record)
    if orjson is not None:
        try:
            return orjson.dumps(record, option=_STRICT)
        except TypeError:
            pass  # a lone surrogate or an int beyond 64 bits: dumps_utf8 writes or names it
    return dumps_utf8(record)


def _check_record(record: Mapping[str, Any]) -> None:
    """Raise StateError for what would not read back as a record: a wrongly typed field,
    or a value JSON cannot carry exactly (named).

    Each value is checked once: frozen state was checked by ``set_state``, and a field of
    plain JSON scalars (``user``, ``page`` ...) needs no walk; only the rest is walked.
    """
    shape = record_problem(record if type(record) is dict else dict(record))
    if shape is not None:
        raise StateError(f"The session record {shape}; the stored session is unchanged.")
    state = record.get(STATE_FIELD)
    if type(state) is not FrozenDict and isinstance(state, Mapping):
        check_json_state(state)
    for field, value in record.items():
        kind = type(value)
        if type(field) is str and (kind in _CHECKED or kind is dict and _flat(value)):
            continue
        problem = json_problem(record, _RECORD_DEPTH)
        if problem is not None:
            where, what = problem
            raise StateError(
                f"The session field {where} holds {what}, which is not JSON-serialisable."
            )
        return


# Values that need no walk: JSON's scalars, and frozen state (checked when it was set).
_CHECKED = frozenset({str, int, bool, type(None), FrozenDict})
_PLAIN = frozenset({str, int, bool, type(None)})


def _flat(value: dict[Any, Any]) -> bool:
    """True for a dict of str keys and plain JSON scalars (``{"id": "1", "name": "you"}``)."""
    for key, item in value.items():
        if type(key) is not str or type(item) not in _PLAIN:
            return False
    return True


def loads(text: str | bytes, *, where: str) -> dict[str, Any]:
    """Parse and check one stored session; ``where`` names the file or key in the error."""
    try:
        record = parse(text)
    except (ValueError, RecursionError) as exc:
        raise CorruptSessionError(f"{where} is not valid JSON ({exc}); fix or delete it.") from exc
    # What a write would refuse is refused when read, at any depth past the limit, so a session
    # never runs a turn it cannot store. Only a long text can nest that deep: no walk otherwise.
    if len(text) > 2 * _RECORD_DEPTH:
        problem = json_problem(record, _RECORD_DEPTH)
        if problem is not None:
            raise CorruptSessionError(
                f"{where} holds JSON nested more deeply than session state may nest "
                f"({MAX_DEPTH} levels); fix or delete it."
            )
    return validate_record(record, where=where)


_RECORD_DEPTH = MAX_DEPTH + 2
"""The record's own levels above its state: record -> _state -> key -> ..."""


def validate_record(record: Any, *, where: str) -> dict[str, Any]:
    """``record`` if it is a session record; else CorruptSessionError naming ``where``."""
    problem = record_problem(record)
    if problem is not None:
        raise CorruptSessionError(f"{where} {problem}; fix or delete it.")
    return record  # type: ignore[no-any-return]


def record_problem(record: Any) -> str | None:
    """Why parsed JSON is not a stored session record (``"holds a JSON array ..."``), or None.

    The one check of a record's shape, shared by the stores and ``sessions_frame``: a JSON
    object, whose ``_state`` (when present) is an object and whose ``lastActivity`` (when
    present) is a number. A *missing* ``_state`` is valid and reads as the initial state:
    Bottender itself writes such a record (its Bot writes the session even when a request
    maps to no event, so no Context ever set ``_state``), and its Context reads a missing
    ``_state`` as ``initialState``. A present one of another type (``null``, ``[]``,
    ``"abc"``) is nothing Bottender writes, so it is refused rather than reset.
    """
    if not isinstance(record, dict):
        return f"holds a JSON {json_type(record)}, not a session object"
    if STATE_FIELD in record and not isinstance(record[STATE_FIELD], dict):
        return f'has a "{STATE_FIELD}" that is a JSON {json_type(record[STATE_FIELD])}, not an object'
    if LAST_ACTIVITY_FIELD in record:
        last_activity = record[LAST_ACTIVITY_FIELD]
        if not isinstance(last_activity, (int, float)) or isinstance(last_activity, bool):
            return (
                f'has a "{LAST_ACTIVITY_FIELD}" that is a JSON {json_type(last_activity)}, '
                "not a number (epoch milliseconds)"
            )
    return None


def json_type(value: Any) -> str:
    """JSON's name for the type of a parsed value: object, array, string, number ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object" if isinstance(value, Mapping) else type(value).__name__


def parse(text: str | bytes) -> Any:
    """JSON text -> Python, fast; raises ValueError on invalid JSON.

    ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON: orjson refuses them, and so does
    the stdlib fallback here (it would accept them). orjson reads an integer beyond 64 bits as a float, silently: text with a run of 19 or
    more digits (which such an integer has) goes to the stdlib, which keeps it exact.
    """
    if orjson is not None:
        data = text if type(text) is bytes else text.encode("utf-8", "surrogatepass")
        # find(), not ``in``: bytes' ``in`` first tries its operand as an int, raising and
        # discarding a TypeError on every call.
        if data.translate(_DIGITS_AS_ZERO).find(_LONG_NUMBER) < 0:
            try:
                return orjson.loads(data)  # the bytes just checked: no second UTF-8 encode
            except ValueError:
                pass  # invalid JSON (or a lone surrogate): let the stdlib say what it is
    try:
        return json.loads(text, parse_constant=refuse_constant)
    except RecursionError:
        raise ValueError(f"JSON nested more deeply than Python can read; state may nest "
                         f"{MAX_DEPTH} levels") from None


def refuse_constant(token: str) -> Any:
    """For ``json.loads(parse_constant=)``: NaN, Infinity and -Infinity are not JSON."""
    raise ValueError(f"{token} is not a JSON value")


_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def copy_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy through JSON, so every store round-trips exactly like a persistent one."""
    return parse(dumps(record))


def _describe_unserialisable(record: Mapping[str, Any], exc: Exception) -> str:
    state = record.get(STATE_FIELD)
    if isinstance(state, Mapping):
        try:
            check_json_state(state)
        except StateError as named:
            return str(named)
    return f"The session record is not JSON-serialisable ({exc})."
