"""SPEC §1: session state with Bottender's semantics, as an action sees it."""

from __future__ import annotations

import copy
import json

import pytest

from bottender_nb import Bot, MemorySessionStore, StateError

TEXT = {"message": {"text": "Hi"}}


async def run_once(action, initial_state=None, store=None):
    bot = Bot(action, initial_state=initial_state, session_store=store if store is not None else MemorySessionStore())
    await bot.handle_request(TEXT)
    return bot


async def test_set_state_merges_shallowly_as_in_the_bottender_docs():
    seen = {}

    async def action(context):
        context.set_state({"count": 1})
        context.set_state({"myObject": {}})
        seen["after_merge"] = dict(context.state)
        context.set_state({"myObject": {"a": {"b": 1}}})
        context.set_state({"myObject": {"c": 2}})
        seen["nested_replaced"] = context.state["myObject"]

    await run_once(action)
    assert seen["after_merge"] == {"count": 1, "myObject": {}}
    assert seen["nested_replaced"] == {"c": 2}


async def test_set_state_accepts_keyword_fields_and_bottender_aliases():
    seen = {}

    async def action(context):
        context.set_state(count=1)
        context.setState({"name": "Ada"})
        seen["merged"] = dict(context.state)
        context.resetState()
        seen["reset"] = dict(context.state)

    await run_once(action, initial_state={"count": 0})
    assert seen == {"merged": {"count": 1, "name": "Ada"}, "reset": {"count": 0}}


@pytest.mark.parametrize("bad", [["count", 1], "count=1", 42, ("count", 1)])
async def test_set_state_with_a_non_mapping_is_a_type_error(bad):
    async def action(context):
        context.set_state(bad)

    with pytest.raises(TypeError, match="set_state takes a mapping"):
        await run_once(action)


async def test_state_is_read_only_and_the_error_teaches_set_state():
    errors = []

    async def action(context):
        for mutate in (
            lambda: context.state.__setitem__("count", 2),
            lambda: context.state.update(count=2),
            lambda: context.state["items"].append(3),
            lambda: context.state["nested"].__setitem__("a", 2),
        ):
            try:
                mutate()
            except TypeError as exc:
                errors.append(str(exc))
        context.set_state({"items": context.state["items"] + [3]})

    store = MemorySessionStore()
    await run_once(action, {"count": 1, "items": [1, 2], "nested": {"a": 1}}, store)
    assert len(errors) == 4
    assert all("set_state" in message for message in errors)
    assert "context.set_state({'count': ...})" in errors[0]
    assert "context.set_state({'items': context.state['items'] + [item]})" in errors[2]
    assert "context.set_state({'nested': {**context.state['nested'], 'field': value}})" in errors[3]
    stored = await store.read("console:1")
    assert stored["_state"] == {"count": 1, "items": [1, 2, 3], "nested": {"a": 1}}


async def test_assigning_context_state_is_refused():
    async def action(context):
        context.state = {"count": 5}

    with pytest.raises(TypeError, match="set_state"):
        await run_once(action)


async def test_state_is_plain_json_and_copyable():
    seen = {}

    async def action(context):
        context.set_state({"a": {"b": [1, 2]}})
        seen["json"] = json.dumps(context.state, sort_keys=True)
        mutable = copy.deepcopy(context.state)
        mutable["a"]["b"].append(3)
        seen["copy"] = mutable
        seen["state"] = context.state

    await run_once(action)
    assert seen["json"] == '{"a": {"b": [1, 2]}}'
    assert seen["copy"] == {"a": {"b": [1, 2, 3]}}
    assert seen["state"] == {"a": {"b": [1, 2]}}


async def test_initial_state_is_deep_copied_into_every_new_session():
    initial = {"count": 0, "history": []}

    async def action(context):
        context.set_state({"history": context.state["history"] + [context.event.text]})

    store = MemorySessionStore()
    bot = Bot(action, initial_state=initial, session_store=store)
    await bot.handle_request({"message": {"text": "one"}})
    await bot.handle_request({"message": {"text": "two"}, "_user": "2"})
    assert (await store.read("console:1"))["_state"]["history"] == ["one"]
    assert (await store.read("console:2"))["_state"]["history"] == ["two"]
    assert initial == {"count": 0, "history": []}


async def test_a_non_json_value_names_the_key_and_keeps_the_previous_state():
    async def action(context):
        if context.event.text == "bad":
            context.set_state({"count": 99, "when": object()})
        context.set_state({"count": context.state["count"] + 1})

    store = MemorySessionStore()
    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    await bot.handle_request({"message": {"text": "ok"}})
    with pytest.raises(StateError, match="'when'"):
        await bot.handle_request({"message": {"text": "bad"}})
    assert (await store.read("console:1"))["_state"] == {"count": 1}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "int key"}, b"bytes"])
async def test_values_json_cannot_carry_are_refused(value):
    async def action(context):
        context.set_state({"value": value})

    with pytest.raises(StateError, match="value|key"):
        await run_once(action)


async def test_expired_session_starts_again_from_initial_state():
    now = [1_700_000_000.0]
    store = MemorySessionStore(expires_in=30, clock=lambda: now[0])

    async def action(context):
        context.set_state({"count": context.state["count"] + 1})
        await context.send_text(f"Count: {context.state['count']}")

    bot = Bot(action, initial_state={"count": 0}, session_store=store, clock=lambda: now[0])
    assert [r.text for r in await bot.handle_request(TEXT)] == ["Count: 1"]
    now[0] += 29 * 60
    assert [r.text for r in await bot.handle_request(TEXT)] == ["Count: 2"]
    now[0] += 31 * 60
    assert [r.text for r in await bot.handle_request(TEXT)] == ["Count: 1"]


# --- deep state: a clear error or a working session, never a RecursionError ---


def _nested(depth: int, kind: str = "dict"):
    value: object = 1
    for _ in range(depth):
        value = {"a": value} if kind == "dict" else [value]
    return value


def _nested_json(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("kind", ["dict", "list"])
async def test_state_nested_up_to_the_limit_is_stored_and_read_back(tmp_path, kind):
    from bottender_nb import FileSessionStore
    from bottender_nb.json_values import MAX_DEPTH

    deep = _nested(MAX_DEPTH - 1, kind)

    async def action(context):
        if "deep" not in context.state:
            context.set_state({"deep": deep})
        else:
            context.set_state({"turns": context.state.get("turns", 0) + 1})

    bot = Bot(action, session_store=FileSessionStore(tmp_path))
    await bot.handle_request(TEXT)
    await bot.handle_request(TEXT)
    stored = json.loads((tmp_path / "console:1.json").read_text())
    assert stored["_state"]["turns"] == 1
    assert stored["_state"]["deep"] == deep


@pytest.mark.parametrize("depth", [600, 5_000, 100_000])
async def test_state_nested_too_deep_names_the_key_and_the_limit(depth):
    async def action(context):
        context.set_state({"count": 1})
        context.set_state({"deep": _nested(depth)})

    store = MemorySessionStore()
    with pytest.raises(StateError, match=r"State key 'deep' is nested deeper than 512 levels;") as e:
        await run_once(action, store=store)
    assert "\n" not in str(e.value)
    assert await store.read("console:1") is None  # nothing half-written


async def test_initial_state_nested_too_deep_is_refused_when_the_bot_is_built():
    with pytest.raises(StateError, match="'deep' is nested deeper than 512"):
        Bot(lambda context: None, initial_state={"deep": _nested(2_000, "list")})


async def test_a_stored_file_nested_as_deep_as_state_may_reads_and_runs(tmp_path):
    from bottender_nb import FileSessionStore
    from bottender_nb.json_values import MAX_DEPTH

    path = tmp_path / "console:1.json"
    path.write_text('{"id":"console:1","platform":"console","_state":{"deep":'
                    + _nested_json(MAX_DEPTH) + "}}")

    async def action(context):
        context.set_state({"seen": True})
        await context.send_text("ok")

    replies = await Bot(action, session_store=FileSessionStore(tmp_path)).handle_request(TEXT)
    assert [str(r) for r in replies] == ["ok"]
    stored = json.loads(path.read_text())["_state"]
    assert stored["seen"] is True and stored["deep"] == _nested(MAX_DEPTH)


# One level past what set_state accepts, and on to what no parser reads: the same error.
@pytest.mark.parametrize("depth", [513, 600, 1_000, 1_100, 50_000])
async def test_a_stored_file_nested_deeper_than_state_may_is_a_corrupt_session_naming_it(
    tmp_path, depth
):
    from bottender_nb import CorruptSessionError, FileSessionStore

    path = tmp_path / "console:1.json"
    text = '{"id":"console:1","platform":"console","_state":{"deep":' + _nested_json(depth) + "}}"
    path.write_text(text)
    ran = []

    async def action(context):
        ran.append(context.event.text)
        context.set_state({"seen": True})

    with pytest.raises(CorruptSessionError, match=r"console:1\.json .*fix or delete") as raised:
        await Bot(action, session_store=FileSessionStore(tmp_path)).handle_request(TEXT)
    assert "\n" not in str(raised.value)
    assert ran == []  # no turn runs on a session it could not store
    assert path.read_text() == text  # never reset or rewritten


def test_freeze_and_thaw_copy_any_depth():
    from bottender_nb.frozen import FrozenDict, freeze, thaw

    deep = _nested(50_000)
    frozen = freeze({"deep": deep})
    inner = frozen["deep"]
    for _ in range(49_999):
        inner = inner["a"]
    assert type(inner) is FrozenDict and inner == {"a": 1}
    with pytest.raises(StateError, match=r"context.state\['deep'\]"):
        inner["b"] = 2
    plain = thaw(frozen)["deep"]
    for _ in range(50_000):
        assert type(plain) is dict
        plain = plain["a"]
    assert plain == 1
