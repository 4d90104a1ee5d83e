"""SPEC §4: running a bot: replies, chaining, props, ordering, errors, sessionless events."""

from __future__ import annotations

import asyncio

import pytest

from bottender_nb import Bot, MemorySessionStore, StateError


async def count_action(context):
    count = context.state["count"] + 1
    await asyncio.sleep(0)  # let overlapping events interleave between read and write
    context.set_state({"count": count})
    await context.send_text(f"Count: {count}")


def text(value: str, user: str | None = None) -> dict:
    body = {"message": {"text": value}}
    if user is not None:
        body["_user"] = user
    return body


async def test_replies_come_back_in_order_with_text_and_str():
    async def action(context):
        await context.send_text("one")
        await context.sendText("two")

    replies = await Bot(action).handle_request(text("Hi"))
    assert [reply.text for reply in replies] == ["one", "two"]
    assert [str(reply) for reply in replies] == ["one", "two"]


async def test_context_exposes_session_event_and_platform():
    seen = {}

    async def action(context):
        seen.update(
            id=context.session.id, platform=context.session.platform, ctx_platform=context.platform,
            text=context.event.text, is_text=context.event.is_text, payload=context.event.payload,
            raw=context.event.raw,
        )

    await Bot(action).handle_request(text("Hello"))
    assert seen == {
        "id": "console:1", "platform": "console", "ctx_platform": "console", "text": "Hello",
        "is_text": True, "payload": None, "raw": {"message": {"text": "Hello"}},
    }


async def test_a_payload_event_has_a_payload_and_no_text():
    seen = {}

    async def action(context):
        seen.update(text=context.event.text, is_text=context.event.is_text, payload=context.event.payload)

    await Bot(action).handle_request({"payload": "GET_STARTED"})
    assert seen == {"text": None, "is_text": False, "payload": "GET_STARTED"}


async def test_an_action_may_return_the_next_action_and_take_props():
    async def greet(context, props):
        await context.send_text(f"Hello {props.get('name', 'you')}")

    async def app(context):
        await context.send_text("routing")
        return greet

    replies = await Bot(app).handle_request(text("Hi"))
    assert [r.text for r in replies] == ["routing", "Hello you"]


async def test_the_counting_bot_counts_per_session():
    bot = Bot(count_action, initial_state={"count": 0})
    for _ in range(2):
        await bot.handle_request(text("Hi"))
    replies = await bot.handle_request(text("Hi", user="2"))
    assert [r.text for r in replies] == ["Count: 1"]
    assert (await bot.read_session("console:1"))["_state"] == {"count": 2}


async def test_overlapping_events_of_one_session_are_handled_in_call_order():
    order = []

    async def action(context):
        order.append(context.event.text)
        await asyncio.sleep(0.001 if context.event.text == "0" else 0)
        context.set_state({"last": context.event.text})

    bot = Bot(action)
    await asyncio.gather(*(bot.handle_request(text(str(i))) for i in range(50)))
    assert order == [str(i) for i in range(50)]
    assert (await bot.read_session("console:1"))["_state"] == {"last": "49"}


async def test_1000_overlapping_events_lose_no_update_and_leave_no_locks():
    bot = Bot(count_action, initial_state={"count": 0})
    await asyncio.gather(*(bot.handle_request(text("Hi")) for _ in range(1000)))
    assert (await bot.read_session("console:1"))["_state"] == {"count": 1000}
    assert len(bot.session_store.locks) == 0


async def test_sessions_of_different_users_run_concurrently():
    started, release = [], asyncio.Event()

    async def action(context):
        started.append(context.session.id)
        await release.wait()

    bot = Bot(action)
    tasks = [asyncio.create_task(bot.handle_request(text("Hi", user=u))) for u in "ab"]
    for _ in range(10):
        await asyncio.sleep(0)
    assert sorted(started) == ["console:a", "console:b"]
    release.set()
    await asyncio.gather(*tasks)


async def test_an_action_that_raises_writes_nothing_and_the_error_reaches_the_caller():
    async def action(context):
        context.set_state({"count": context.state["count"] + 1})
        if context.event.text == "boom":
            raise RuntimeError("boom in the action")

    store = MemorySessionStore()
    bot = Bot(action, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(text("ok"))
    with pytest.raises(RuntimeError, match="boom in the action"):
        await bot.handle_request(text("boom"))
    assert (await store.read("console:1"))["_state"] == {"count": 1}
    await bot.handle_request(text("ok"))
    assert (await store.read("console:1"))["_state"] == {"count": 2}


async def test_stored_record_has_bottenders_shape_and_keeps_unknown_fields():
    now = 1_700_000_000.5
    store = MemorySessionStore()
    await store.write("console:1", {
        "id": "console:1", "platform": "console", "user": {"id": "1", "name": "you", "_updatedAt": "x"},
        "_state": {"count": 4}, "lastActivity": 1, "custom": {"kept": True},
    })
    bot = Bot(count_action, initial_state={"count": 0}, session_store=store, clock=lambda: now)
    await bot.handle_request(text("Hi"))
    assert await store.read("console:1") == {
        "id": "console:1", "platform": "console", "user": {"id": "1", "name": "you", "_updatedAt": "x"},
        "_state": {"count": 5}, "lastActivity": 1_700_000_000_500, "custom": {"kept": True},
    }


async def test_an_event_without_a_session_key_runs_without_a_session():
    seen = {}

    async def action(context):
        seen["session"] = context.session
        seen["state"] = dict(context.state)
        try:
            context.set_state({"x": 1})
        except StateError as exc:
            seen["error"] = str(exc)
        await context.send_text("still answered")

    store = MemorySessionStore()
    bot = Bot(action, session_store=store)
    poll = {"update_id": 1, "poll": {"id": "5", "question": "?", "options": [], "is_closed": False}}
    replies = await bot.handle_request(poll, platform="telegram")
    assert [r.text for r in replies] == ["still answered"]
    assert seen["session"] is None and seen["state"] == {}
    assert "no session" in seen["error"]
    assert await store.all() == []


def test_say_works_outside_any_event_loop():
    bot = Bot(count_action, initial_state={"count": 0})
    assert bot.say("Hi") == ["Count: 1"]
    assert bot.say("Hi") == ["Count: 2"]
    assert bot.say("Hi", user="2") == ["Count: 1"]


async def test_say_works_inside_a_running_event_loop_like_jupyter():
    bot = Bot(count_action, initial_state={"count": 0})
    assert bot.say("Hi") == ["Count: 1"]
    assert await bot.handle_request(text("Hi")) and bot.say("Hi") == ["Count: 3"]


async def test_on_turn_listeners_see_each_turn_with_state_before_and_after():
    turns = []
    bot = Bot(count_action, initial_state={"count": 0})
    bot.on_turn(turns.append)
    await bot.handle_request(text("Hi"))
    await bot.handle_request(text("Hi"))
    assert [(t.session_id, dict(t.state_before), dict(t.state)) for t in turns] == [
        ("console:1", {"count": 0}, {"count": 1}),
        ("console:1", {"count": 1}, {"count": 2}),
    ]
    assert turns[1].replies == ["Count: 2"]


async def test_reset_session_goes_back_to_initial_state():
    bot = Bot(count_action, initial_state={"count": 0})
    await bot.handle_request(text("Hi"))
    await bot.reset_session("console:1")
    assert (await bot.read_session("console:1"))["_state"] == {"count": 0}


async def test_context_session_is_read_only_so_an_action_cannot_change_the_record():
    store = MemorySessionStore()

    async def action(context):
        for change in (lambda: context.session["user"].__setitem__("name", "changed in place"),
                       lambda: context.session.user.update(id="not stored either")):
            with pytest.raises(StateError, match="context.session.user is read-only"):
                change()
        context.session.as_dict()["extra"] = object()  # a copy: would not even be JSON
        await context.send_text(context.session.get("user")["name"])

    bot = Bot(action, session_store=store)
    assert [str(reply) for reply in await bot.handle_request(text("Hi"))] == ["you"]
    stored = await store.read("console:1")
    assert stored["user"] == {"id": "1", "name": "you"} and "extra" not in stored
    assert context_session_fields_are_plain(stored)


def context_session_fields_are_plain(record: dict) -> bool:
    """A stored record reads back as plain dicts and lists, whatever the runner kept."""
    return type(record["_state"]) is dict and type(record["user"]) is dict


async def test_sessions_read_from_the_memory_store_are_plain_independent_copies():
    store = MemorySessionStore()

    async def action(context):
        context.set_state({"items": [*context.state["items"], context.event.text],
                           "nested": {"seen": len(context.state["items"]) + 1}})

    bot = Bot(action, initial_state={"items": [], "nested": {}}, session_store=store)
    await bot.handle_request(text("a"))
    first = await store.read("console:1")
    assert type(first["_state"]["items"]) is list and type(first["_state"]["nested"]) is dict
    first["_state"]["items"].append("not stored")
    first["_state"]["nested"]["seen"] = 99
    (await store.all())[0]["_state"]["items"].clear()
    await bot.handle_request(text("b"))
    assert (await store.read("console:1"))["_state"] == {"items": ["a", "b"], "nested": {"seen": 2}}


class ClosableStore(MemorySessionStore):
    """A store that shows whether it was closed (as a redis or mongo store drops its client)."""

    closed = False

    async def close(self) -> None:
        self.closed = True


def test_reconfigure_closes_the_store_it_replaces():
    old, new = ClosableStore(), ClosableStore()
    bot = Bot(count_action, initial_state={"count": 0}, session_store=old)
    assert bot.say("hi") == ["Count: 1"]
    bot.reconfigure(session_store=new)
    assert old.closed and not new.closed
    assert bot.say("hi") == ["Count: 1"]  # the new store starts empty
    bot.reconfigure(session_store=new)  # the same store again: kept open
    assert not new.closed


async def test_reconfigure_inside_a_running_loop_closes_the_replaced_store():
    old = ClosableStore()
    bot = Bot(count_action, session_store=old)
    bot.reconfigure(session_store=MemorySessionStore())  # as %%bottender_config does in Jupyter
    assert old.closed


async def test_two_bots_sharing_the_default_kind_of_store_take_turns_on_a_session():
    store = MemorySessionStore()
    bots = [Bot(count_action, initial_state={"count": 0}, session_store=store) for _ in range(2)]
    await asyncio.gather(*(bots[n % 2].handle_request(text("Hi")) for n in range(200)))
    assert (await store.read("console:1"))["_state"] == {"count": 200}
    assert len(store.locks) == 0
