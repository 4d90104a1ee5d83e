"""Malformed webhook bodies: every platform answers with its replies or one clear error.

Real payloads (``payloads/<platform>/*.json``) are mutated — fields dropped, retyped (None,
int, bool, float, str, list, object), nested one level down, wrapped in a list, replaced by
JSON nested 10,000 deep — and fed to ``Bot.handle_request`` as a user would. JSON carried
inside a field (Slack's ``payload``, a modal's ``private_metadata``) is mutated inside too.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bottender_nb import (
    Bot, BodyError, BottenderNbError, MemorySessionStore, PlatformError, StateError,
)
from bottender_nb.platforms import PLATFORM_NAMES

PAYLOADS = Path(__file__).parent / "payloads"
DEPTH = 10_000


def _deep_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"id": "x"}
    for _ in range(DEPTH):
        value = {"id": value}
    return value


def _deep_list() -> list[Any]:
    value: list[Any] = ["x"]
    for _ in range(DEPTH):
        value = [value]
    return value


DEEP_DICT, DEEP_LIST = _deep_dict(), _deep_list()
DEEP_TEXT = '{"channelId":' * DEPTH + '"C1"' + "}" * DEPTH  # JSON text no json.loads can read
_DEEP = {id(DEEP_DICT): '{"id":' * DEPTH + '{"id":"x"}' + "}" * DEPTH,
         id(DEEP_LIST): "[" * DEPTH + '["x"]' + "]" * DEPTH}


class Encoded:
    """JSON text inside a field, decoded so that mutations reach inside it."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return Encoded(_decode(json.loads(value)))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, Encoded):
        return _to_json(value.value)
    if isinstance(value, dict) and id(value) not in _DEEP:
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list) and id(value) not in _DEEP:
        return [_encode(item) for item in value]
    return value


def _to_json(value: Any) -> str:
    """JSON text of ``value``; the deep constants are spliced in as text (json.dumps recurses)."""
    marks: dict[str, str] = {}

    def mark(item: Any) -> Any:
        if id(item) in _DEEP or (type(item) is int and item.bit_length() > 4_000):
            text = _DEEP[id(item)] if id(item) in _DEEP else "9" * 5_000  # json.dumps refuses both
            marks[f"\x00{len(marks)}\x00"] = text
            return list(marks)[-1]
        if isinstance(item, Encoded):
            return _to_json(item.value)
        if isinstance(item, dict):
            return {key: mark(child) for key, child in item.items()}
        if isinstance(item, list):
            return [mark(child) for child in item]
        return item

    text = json.dumps(mark(value))
    for placeholder, deep in marks.items():
        text = text.replace(json.dumps(placeholder), deep)
    return text


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a decoded body a mutation can hit (the body itself is ``()``)."""
    found = [prefix]
    if isinstance(value, Encoded):
        found += _paths(value.value, (*prefix, Encoded))[1:]
    elif isinstance(value, dict) and id(value) not in _DEEP:
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list) and id(value) not in _DEEP:
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _step(container: Any, step: Any) -> Any:
    return container.value if step is Encoded else container[step]


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="abN{[1 :one", max_size=6),
    st.sampled_from([10**5000, 2**64, -(2**63), 1e300, 7.0]),  # too long to print, integral
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["id", "type", "text", "a"]), scalars, max_size=3),
    st.sampled_from([DEEP_DICT, DEEP_LIST, DEEP_TEXT]),
)
OPERATIONS = ("drop", "retype", "wrap", "nest")


def _mutate(body: Any, data: st.DataObject) -> Any:
    """``body`` with one to three mutations drawn by hypothesis."""
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(body)))
        operation = data.draw(st.sampled_from(OPERATIONS))
        if operation == "drop" and path and path[-1] is not Encoded:
            parent = body
            for step in path[:-1]:
                parent = _step(parent, step)
            if isinstance(parent, (dict, list)) and id(parent) not in _DEEP:
                del parent[path[-1]]
            continue
        old = body
        for step in path:
            old = _step(old, step)
        new = {"drop": lambda: None, "retype": lambda: data.draw(values),
               "wrap": lambda: [old], "nest": lambda: {"id": old}}[operation]()
        if not path:
            body = new
            continue
        parent = body
        for step in path[:-1]:
            parent = _step(parent, step)
        if path[-1] is Encoded:
            parent.value = new
        else:
            parent[path[-1]] = new
    return body


def _scalars(value: Any) -> list[Any]:
    """Every scalar a decoded body carries, also those inside JSON text, as sent."""
    if isinstance(value, Encoded):
        return _scalars(value.value)
    if isinstance(value, dict) and id(value) not in _DEEP:
        return [s for item in value.values() for s in _scalars(item)]
    if isinstance(value, list) and id(value) not in _DEEP:
        return [s for item in value for s in _scalars(item)]
    return [value]


def _keys_carried(body: Any) -> set[str]:
    """The session keys a body can name: its strings, and its whole numbers as Bottender
    writes them (``-42``; ``7`` for ``7.0``); never a bool, a None or a container."""
    keys = set()
    for value in _scalars(body):
        if isinstance(value, str):
            keys.add(value)
        elif type(value) is float and value.is_integer():
            keys.add(str(int(value)))
        elif type(value) is int and value.bit_length() < 4_000:  # str() refuses longer ones
            keys.add(str(value))
    return keys


async def _handle(body: Any, platform: str, *, catch: bool = True) -> list[str | None]:
    """Handle ``body``; the session ids the action saw and the store holds.

    Handled, each event the action ran for gets its own reply, filed under its session, and
    only sessions whose turn ran are stored. With ``catch``, a BodyError with a one-line
    message is the other allowed outcome.
    """
    seen: list[str | None] = []

    async def action(context: Any) -> None:
        seen.append(None if context.session is None else context.session.id)
        if context.session is not None:
            context.set_state({"turns": context.state.get("turns", 0) + 1})
        await context.send_text(f"ok {len(seen)}")

    store = MemorySessionStore()
    bot = Bot(action, session_store=store)
    try:
        replies = await bot.handle_request(body, platform=platform)
    except BottenderNbError as exc:
        assert "\n" not in str(exc), f"a multi-line message: {exc}"
        if not catch:
            raise
        # A malformed body; or one holding what no JSON webhook carries (inf, NaN), refused
        # before it runs because its turn keeps the event as JSON.
        assert isinstance(exc, (BodyError, StateError)), f"not a body's error: {exc!r}"
    else:
        assert [(str(r), r.session_id) for r in replies] == [
            (f"ok {n}", session_id) for n, session_id in enumerate(seen, 1)
        ]
    stored = [record["id"] for record in await store.all()]
    assert set(stored) <= set(seen)  # a session is stored only when its turn ran
    return seen + stored


@pytest.mark.parametrize("platform", PLATFORM_NAMES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_malformed_bodies_give_replies_or_one_clear_error(platform: str, data: Any) -> None:
    path = data.draw(st.sampled_from(sorted((PAYLOADS / platform).glob("*.json"))), label="file")
    mutated = _mutate(_decode(json.loads(path.read_text())["body"]), data)
    ids = asyncio.run(_handle(_encode(mutated), platform))  # only a BodyError may escape
    carried = _keys_carried(mutated) | ({"1"} if platform == "console" else set())  # its one user
    for session_id in filter(None, ids):
        prefix, key = session_id.split(":", 1)
        assert prefix == platform and key
        if platform == "whatsapp" and key not in carried:  # "whatsapp:" + a bare From
            key = key.removeprefix("whatsapp:")
        assert key in carried, f"{session_id[:80]!r} was not built from a string or number sent"


@pytest.mark.parametrize(
    ("platform", "body", "match"),
    [
        ("console", [{"message": {"text": "Hi"}}], r"console webhook body is a list \["),
        ("console", {"_user": None, "message": {"text": "Hi"}}, "_user is None"),
        ("line", {"events": [{"replyToken": ["r"], "type": "message",
                              "source": {"type": "user", "userId": ["U1"]}}]},
         r"source.userId"),
        ("telegram", {"message": {"chat": {"id": {"a": 1}}, "text": "hi"}}, r"message.chat.id"),
        ("telegram", {"message": {"chat": [1], "text": "hi"}}, r"message.chat is a list"),
        ("messenger", {"entry": {"messaging": []}}, r"entry is a dict"),
        ("slack", {"event": {"type": "message", "user": ["U"]}}, r"field user is a list"),
        ("slack", {"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"},
                                          "view": {"private_metadata": DEEP_TEXT}})},
         "private_metadata holds JSON nested too deeply"),
        ("viber", {"event": "message", "sender": {"id": True}}, r"sender.id is a bool"),
        ("whatsapp", {"SmsStatus": "received", "From": 1.5}, r"From is a float 1.5"),
    ],
)
def test_the_error_names_the_bad_field(platform: str, body: Any, match: str) -> None:
    with pytest.raises(BottenderNbError, match=match) as raised:
        asyncio.run(_handle(body, platform, catch=False))
    assert "pass" in str(raised.value) or "name the" in str(raised.value)  # it says the fix


@pytest.mark.parametrize(
    ("platform", "body", "expected"),
    [
        ("telegram", {"message": {"chat": {"id": -42}, "text": "hi"}}, "telegram:-42"),
        ("telegram", {"message": {"chat": {"id": 7.0}, "text": "hi"}}, "telegram:7"),
        ("console", {"_user": 2, "message": {"text": "hi"}}, "console:2"),
        ("viber", {"event": "message", "sender": {"id": "None"}}, "viber:None"),  # a real string
    ],
)
def test_integer_ids_are_stringified_as_bottender_does(
    platform: str, body: Any, expected: str
) -> None:
    assert set(asyncio.run(_handle(body, platform))) == {expected}


@pytest.mark.parametrize(
    ("platform", "body"),
    [("telegram", {"poll": {"id": "1", "question": "?"}}), ("viber", {"event": "mystery"}),
     ("telegram", {"message": {"chat": {"id": None}, "text": "hi"}})],
)
def test_an_event_without_a_key_runs_without_a_session(platform: str, body: Any) -> None:
    assert asyncio.run(_handle(body, platform)) == [None]


@pytest.mark.parametrize("name", ["telegarm", ["console"], None])
def test_an_unknown_platform_names_the_known_ones(name: Any) -> None:
    with pytest.raises(PlatformError, match="use one of: console, messenger"):
        asyncio.run(_handle({"message": {"text": "hi"}}, name, catch=False))
