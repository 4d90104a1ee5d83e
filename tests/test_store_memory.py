"""MemorySessionStore: Bottender's LRU (maxSize), copies in and out, expiry, JSON at the boundary."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from bottender_nb import Bot, MemorySessionStore, StateError


def session(session_id: str, count: int = 0, last_activity: int = 1_700_000_000_000) -> dict:
    platform, _, key = session_id.partition(":")
    return {
        "id": session_id, "platform": platform, "user": {"id": key},
        "_state": {"count": count}, "lastActivity": last_activity,
    }


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def stored_ids(store: MemorySessionStore) -> set[str]:
    return {record["id"] for record in await store.all()}


async def test_default_max_size_is_500_and_the_oldest_is_dropped_past_it():
    store = MemorySessionStore()
    assert store.max_size == 500
    for n in range(501):
        await store.write(f"console:{n}", session(f"console:{n}"))
    assert await store.read("console:0") is None
    assert await store.read("console:1") is not None
    assert await store.read("console:500") is not None
    assert len(await store.all()) == 500


async def test_reading_a_session_makes_it_the_most_recently_used():
    store = MemorySessionStore(max_size=3)
    for name in "abc":
        await store.write(f"t:{name}", session(f"t:{name}"))
    assert await store.read("t:a") is not None  # a is now newer than b and c
    await store.write("t:d", session("t:d"))
    assert await stored_ids(store) == {"t:a", "t:c", "t:d"}


async def test_writing_a_session_makes_it_the_most_recently_used():
    store = MemorySessionStore(max_size=3)
    for name in "abc":
        await store.write(f"t:{name}", session(f"t:{name}"))
    await store.write("t:a", session("t:a", count=1))  # a is now newer than b and c
    await store.write("t:d", session("t:d"))
    await store.write("t:e", session("t:e"))
    assert await stored_ids(store) == {"t:a", "t:d", "t:e"}
    assert (await store.read("t:a"))["_state"] == {"count": 1}


async def test_listing_all_sessions_does_not_count_as_using_them():
    store = MemorySessionStore(max_size=2)
    await store.write("t:a", session("t:a"))
    await store.write("t:b", session("t:b"))
    await store.read("t:a")  # b is now the least recently used, though stored after a
    await store.all()
    await store.write("t:c", session("t:c"))
    assert await stored_ids(store) == {"t:a", "t:c"}


async def test_a_bot_on_a_full_store_starts_the_evicted_user_over():
    async def count(context):
        context.set_state({"count": context.state["count"] + 1})

    bot = Bot(count, initial_state={"count": 0}, session_store=MemorySessionStore(max_size=2))
    for user in ["1", "2", "1", "3"]:  # 2 is least recently used when 3 arrives
        await bot.handle_request({"message": {"text": "hi"}, "_user": user})
    await bot.handle_request({"message": {"text": "hi"}, "_user": "2"})
    assert (await bot.session_store.read("console:2"))["_state"] == {"count": 1}
    assert await bot.session_store.read("console:1") is None  # now 1 was the oldest


@pytest.mark.parametrize("max_size", [0, -1, 2.5, True])
def test_max_size_must_be_a_positive_int(max_size):
    with pytest.raises(ValueError, match="max_size"):
        MemorySessionStore(max_size)


async def test_reads_are_independent_copies():
    store = MemorySessionStore()
    await store.write("console:1", session("console:1", count=1))
    first = await store.read("console:1")
    first["_state"]["count"] = 99
    first["user"]["name"] = "changed"
    first["_state"]["extra"] = object()
    assert await store.read("console:1") == session("console:1", count=1)
    assert (await store.read("console:1")) is not (await store.read("console:1"))


async def test_a_written_dict_can_be_changed_afterwards_without_changing_the_store():
    store = MemorySessionStore()
    record = session("console:1", count=1)
    await store.write("console:1", record)
    record["_state"]["count"] = 2
    record["_state"]["bad"] = {1, 2}
    assert (await store.read("console:1"))["_state"] == {"count": 1}
    (await store.all())[0]["_state"]["count"] = 3
    assert (await store.read("console:1"))["_state"] == {"count": 1}


NON_JSON_VALUES = [
    pytest.param({1, 2}, id="set"),
    pytest.param(object(), id="object"),
    pytest.param(dt.datetime(2024, 1, 1), id="datetime"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(uuid.UUID(int=1), id="uuid"),
]


@pytest.mark.parametrize("value", NON_JSON_VALUES)
async def test_a_non_json_value_outside_the_state_raises_naming_the_field(value):
    store = MemorySessionStore()
    await store.write("console:1", session("console:1", count=1))
    bad = session("console:1", count=2)
    bad["user"]["joined"] = value
    with pytest.raises(StateError, match=r"\['user'\]\['joined'\]"):
        await store.write("console:1", bad)
    assert await store.read("console:1") == session("console:1", count=1)


@pytest.mark.parametrize("value", NON_JSON_VALUES)
async def test_a_non_json_top_level_field_raises_naming_it(value):
    store = MemorySessionStore()
    await store.write("console:1", session("console:1", count=1))
    bad = {**session("console:1", count=2), "page": value}
    with pytest.raises(StateError, match=r"\['page'\]"):
        await store.write("console:1", bad)
    assert await store.read("console:1") == session("console:1", count=1)


@pytest.mark.parametrize("value", NON_JSON_VALUES)
async def test_a_non_json_value_raises_naming_the_key_and_keeps_the_old_session(value):
    store = MemorySessionStore()
    await store.write("console:1", session("console:1", count=1))
    bad = session("console:1", count=2)
    bad["_state"]["bad_key"] = value
    with pytest.raises(StateError, match="'bad_key'"):
        await store.write("console:1", bad)
    assert await store.read("console:1") == session("console:1", count=1)


@pytest.mark.parametrize("value", NON_JSON_VALUES)
async def test_a_non_json_new_session_is_not_stored_at_all(value):
    store = MemorySessionStore()
    bad = session("console:1")
    bad["_state"]["bad_key"] = value
    with pytest.raises(StateError, match="'bad_key'"):
        await store.write("console:1", bad)
    assert await store.read("console:1") is None
    assert await store.all() == []


@pytest.mark.parametrize("expires_in", [1, dt.timedelta(minutes=1)])
async def test_a_session_older_than_expires_in_reads_as_absent(expires_in):
    clock = FakeClock()
    store = MemorySessionStore(expires_in=expires_in, clock=clock)
    await store.write("console:1", session("console:1", last_activity=int(clock.now * 1000)))
    clock.now += 59
    assert await store.read("console:1") is not None
    assert len(await store.all()) == 1
    clock.now += 2
    assert await store.read("console:1") is None
    assert await store.all() == []


async def test_a_bot_starts_from_initial_state_after_expiry():
    clock = FakeClock()

    async def count(context):
        context.set_state({"count": context.state["count"] + 1})

    store = MemorySessionStore(expires_in=30, clock=clock)
    bot = Bot(count, initial_state={"count": 0}, session_store=store, clock=clock)
    await bot.handle_request({"message": {"text": "hi"}})
    clock.now += 29 * 60
    await bot.handle_request({"message": {"text": "hi"}})
    assert (await store.read("console:1"))["_state"] == {"count": 2}
    clock.now += 31 * 60
    await bot.handle_request({"message": {"text": "hi"}})
    assert (await store.read("console:1"))["_state"] == {"count": 1}


async def test_destroy_forgets_a_session_and_ignores_an_absent_one():
    store = MemorySessionStore()
    await store.write("console:1", session("console:1"))
    await store.destroy("console:1")
    await store.destroy("console:never")
    assert await store.read("console:1") is None
    assert await store.all() == []


async def test_overlapping_events_of_one_session_lose_no_update():
    async def count(context):
        current = context.state["count"]
        await asyncio.sleep(0)  # another event of the session would interleave here
        context.set_state({"count": current + 1})

    store = MemorySessionStore()
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    await asyncio.gather(*(bot.handle_request({"message": {"text": "hi"}}) for _ in range(1000)))
    assert (await store.read("console:1"))["_state"] == {"count": 1000}
