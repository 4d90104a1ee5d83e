"""MongoSessionStore beyond the conformance suite, on mongomock (no MongoDB server can be had here).

Documents upserted by ``id`` and returned without ``_id``; errors raised, never a new session;
the TTL index option; a MongoDB that cannot be reached; the extra.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mongomock
import pytest
from bson import ObjectId
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from bottender_nb import Bot, MongoSessionStore, StateError, StoreError
from servers import AsyncMongomockCollection

HI = {"message": {"text": "hi"}}
REPO = Path(__file__).parent.parent


def record(session_id: str = "console:1", last_activity: int = 1_700_000_000_000, **state: Any):
    return {"id": session_id, "platform": "console", "user": {"id": "1"}, "_state": state,
            "lastActivity": last_activity}


@pytest.fixture
def collection() -> Any:
    return mongomock.MongoClient()["bottender"]["sessions"]


async def make(collection: Any, **options: Any) -> MongoSessionStore:
    store = MongoSessionStore(collection=AsyncMongomockCollection(collection), **options)
    return await store.init()


async def test_one_document_per_session_replaced_on_write(collection: Any) -> None:
    store = await make(collection)
    await store.write("console:1", {**record(count=1), "page": {"id": "p"}})
    await store.write("console:1", record(count=2))
    documents = list(collection.find({}))
    assert len(documents) == 1
    assert {k: v for k, v in documents[0].items() if k != "_id"} == record(count=2)


async def test_id_is_unique_and_indexed(collection: Any) -> None:
    await make(collection)
    indexes = collection.index_information()
    assert any(index["key"] == [("id", 1)] and index.get("unique") for index in indexes.values())


async def test_mongodb_ids_are_never_returned(collection: Any) -> None:
    collection.insert_one({"_id": ObjectId(), **record("console:7", count=7)})
    store = await make(collection)
    assert await store.read("console:7") == record("console:7", count=7)
    assert await store.all() == [record("console:7", count=7)]


class FailingCollection(AsyncMongomockCollection):
    """A collection whose server stopped answering."""

    def __getattr__(self, name: str) -> Any:
        if name == "create_index":
            return super().__getattr__(name)

        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise AutoReconnect("connection closed")

        return fail

    def find(self, *args: Any, **kwargs: Any) -> Any:
        raise ServerSelectionTimeoutError("No servers found yet")


async def test_a_read_error_raises_instead_of_starting_over(collection: Any) -> None:
    ran = []

    async def action(context: Any) -> None:
        ran.append(context.state)

    store = await MongoSessionStore(collection=FailingCollection(collection)).init()
    with pytest.raises(StoreError, match="read session 'console:1'.*mongod running"):
        await store.read("console:1")
    with pytest.raises(StoreError, match="connection closed"):
        await Bot(action, initial_state={"count": 0}, session_store=store).handle_request(HI)
    assert ran == []  # the event never ran against a made-up new session


@pytest.mark.parametrize("call", [
    lambda store: store.write("console:1", record()),
    lambda store: store.destroy("console:1"),
    lambda store: store.all(),
])
async def test_write_destroy_and_all_errors_raise(collection: Any, call: Any) -> None:
    store = await MongoSessionStore(collection=FailingCollection(collection)).init()
    with pytest.raises(StoreError, match="'sessions'"):
        await call(store)


async def test_ttl_index_lets_mongodb_drop_expired_sessions(collection: Any) -> None:
    store = await make(collection, expires_in=30, ttl_index=True)
    indexes = collection.index_information()
    assert any(
        index["key"] == [("_expiresAt", 1)] and index.get("expireAfterSeconds") == 0
        for index in indexes.values()
    )
    now_ms = int(time.time() * 1000)
    await store.write("console:1", record(last_activity=now_ms, count=1))
    document = collection.find_one({"id": "console:1"})
    expires_at = document["_expiresAt"].replace(tzinfo=dt.timezone.utc)
    expected = dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc) + dt.timedelta(minutes=30)
    assert abs(expires_at - expected) < dt.timedelta(milliseconds=1)
    assert await store.read("console:1") == record(last_activity=now_ms, count=1)  # no _expiresAt


class TTLMonitorNotRunYet(AsyncMongomockCollection):
    """A collection whose TTL index exists but whose TTL monitor has not run yet.

    MongoDB's monitor deletes expired documents about once a minute; until it does, they are
    there to read. mongomock deletes them at once, so its TTL index is left out here.
    """

    async def create_index(self, keys: Any, **options: Any) -> str:
        if "expireAfterSeconds" in options:
            return "_expiresAt_1"
        return self.sync.create_index(keys, **options)


async def test_an_expired_session_reads_as_none_before_the_ttl_monitor_deletes_it(
    collection: Any,
) -> None:
    """Expiry holds on read whatever the TTL monitor has done: the store checks lastActivity."""
    store = await MongoSessionStore(
        collection=TTLMonitorNotRunYet(collection), expires_in=30, ttl_index=True
    ).init()
    now_ms = int(time.time() * 1000)
    await store.write("console:1", record(last_activity=now_ms, count=1))
    await store.write("console:2", record("console:2", last_activity=now_ms - 31 * 60_000))
    expires_at = collection.find_one({"id": "console:2"})["_expiresAt"]  # still stored, and due
    assert expires_at.replace(tzinfo=dt.timezone.utc) < dt.datetime.now(dt.timezone.utc)
    assert await store.read("console:2") is None
    assert [session["id"] for session in await store.all()] == ["console:1"]


async def test_duplicate_ids_are_reported_with_the_fix(collection: Any) -> None:
    collection.insert_many([record(count=1), record(count=2)])
    with pytest.raises(StoreError, match="share an id.*Keep the newest"):
        await make(collection)


def test_ttl_index_needs_expires_in() -> None:
    with pytest.raises(ValueError, match="expires_in"):
        MongoSessionStore(ttl_index=True)


async def test_mongodb_down_is_a_clear_store_error() -> None:
    store = MongoSessionStore("mongodb://127.0.0.1:9/bots?serverSelectionTimeoutMS=200")
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"collection 'sessions' at .*127\.0\.0\.1:9.*mongod"):
        await store.init()
    assert time.monotonic() - started < 10
    await store.close()


def test_a_missing_pymongo_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['pymongo'] = None\n"
        "import bottender_nb\n"
        "try:\n    bottender_nb.MongoSessionStore\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert 'pip install "bottender-nb[mongo]"' in result.stdout, result.stderr


def test_importing_the_package_does_not_import_pymongo() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, bottender_nb; print('pymongo' in sys.modules)"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


async def test_bson_dates_and_ids_a_bottender_bot_stored_read_as_json(collection: Any) -> None:
    collection.insert_one({
        "id": "console:1", "platform": "console", "user": {"id": "1"},
        "_state": {"count": 1, "since": dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
                   "ref": ObjectId("65f000000000000000000001")},
        "lastActivity": 1_700_000_000_000, "createdAt": dt.datetime(2024, 1, 2),
    })
    store = await make(collection)

    async def count(context: Any) -> None:
        context.set_state({"count": context.state["count"] + 1})
        await context.send_text(context.state["since"])

    replies = await Bot(count, session_store=store).handle_request(HI)
    assert [str(reply) for reply in replies] == ["2024-05-06T07:08:09.123Z"]
    stored = await store.read("console:1")
    assert stored["_state"] == {"count": 2, "since": "2024-05-06T07:08:09.123Z",
                                "ref": "65f000000000000000000001"}
    assert stored["createdAt"] == "2024-01-02T00:00:00.000Z"
    assert [session["createdAt"] for session in await store.all()] == ["2024-01-02T00:00:00.000Z"]


async def test_a_lone_surrogate_is_refused_with_a_state_error_that_names_it(collection: Any):
    """BSON strings are UTF-8, which cannot carry one (the JSON-text stores escape it)."""
    store = await make(collection)
    await store.write("console:1", record(n=1))
    with pytest.raises(StateError, match=r"session\['_state'\]\['text'\] holds a lone surrogate"):
        await store.write("console:1", record(n=2, text="half a pair: \ud83d"))
    with pytest.raises(StateError, match=r"the key of session\['_state'\]\['\\ud83d'\]"):
        await store.write("console:1", record(**{"\ud83d": 1}))
    assert (await store.read("console:1"))["_state"] == {"n": 1}  # the stored one is unchanged


async def test_an_integer_beyond_64_bits_is_refused_with_a_state_error_that_names_it(collection):
    """BSON integers are 64-bit at most (the JSON-text stores keep bigger ones exact)."""
    store = await make(collection)
    await store.write("console:1", record(n=1))
    with pytest.raises(StateError, match=r"session\['_state'\]\['big'\]\[1\] holds 9223372036854775808"):
        await store.write("console:1", record(n=2, big=[1, 2**63]))
    await store.write("console:1", record(n=3, low=-(2**63)))  # the 64-bit range itself is fine
    assert (await store.read("console:1"))["_state"] == {"n": 3, "low": -(2**63)}
