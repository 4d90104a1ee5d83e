"""The Mongo store's histories: a collection of its own, ``<collection_name>_history``.

Bottender's ``MongoSessionStore`` reads only its sessions collection, and so does this
package's ``all()``: turns kept in a sibling collection never show up as sessions.

A document is ``{session_id, index, turn}``, where ``turn`` is the turn's JSON text. Text,
not a sub-document: an event body JSON carries but BSON does not (an int beyond 64 bits, a
lone surrogate) is kept as well as the JSON-text stores keep it, and a turn reads back exactly.
A unique index on ``(session_id, index)`` keeps indexes in order: the next is one past the
last; two appends that pick the same one (Mongo has no session lock across processes) meet
the index, and the loser picks again. Each append deletes what falls out of ``keep``: one
index lookup and one small delete, at turn 10 as at turn 10,000.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import CorruptSessionError, StoreError, missing_extra
from ..record import parse
from .history import History, TurnRecord, encode_turn

try:
    from pymongo import ASCENDING, DESCENDING
    from pymongo.errors import DuplicateKeyError, PyMongoError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without pymongo
    raise missing_extra("pymongo", "mongo") from exc

SUFFIX = "_history"
_TRIES = 100
_ORDER = [("session_id", ASCENDING), ("index", ASCENDING)]


class MongoHistory(History):
    """Turns as documents of ``<sessions collection>_history`` (see the module docstring).

    :param sessions: a coroutine function giving the store's (connected) sessions collection;
        the history collection is its sibling in the same database.
    """

    def __init__(self, sessions: Callable[[], Awaitable[Any]]) -> None:
        self._sessions = sessions
        self._collection: Any = None

    async def collection(self) -> Any:
        """The history collection, indexed by ``(session_id, index)`` on first use."""
        if self._collection is None:
            sessions = await self._sessions()
            collection = sessions.database[sessions.name + SUFFIX]
            await self._run("index", collection.create_index(_ORDER, unique=True))
            self._collection = collection
        return self._collection

    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        text = encode_turn(turn).decode("utf-8", "surrogatepass")
        collection = await self.collection()
        for _ in range(_TRIES):
            last = await self._run("read", collection.find_one(
                {"session_id": session_id}, {"_id": False, "index": True},
                sort=[("index", DESCENDING)],
            ))
            index = 0 if last is None else last["index"] + 1
            try:
                await collection.insert_one({"session_id": session_id, "index": index, "turn": text})
            except DuplicateKeyError:
                continue  # another process took this index first: take the next
            except PyMongoError as exc:
                raise StoreError(f"Cannot append a turn to MongoDB ({exc}).") from exc
            break
        else:
            raise StoreError(f"Cannot append a turn of {session_id!r}: the index kept being taken.")
        await self._run("trim", collection.delete_many(
            {"session_id": session_id, "index": {"$lte": index - keep}}
        ))
        turn["index"] = index
        return index

    async def undo(self, session_id: str, index: int) -> None:
        collection = await self.collection()
        await self._run("undo", collection.delete_one({"session_id": session_id, "index": index}))

    async def read(self, session_id: str) -> list[TurnRecord]:
        entries = await self._find({"session_id": session_id})
        return [entry for _, entry in entries if not isinstance(entry, CorruptSessionError)]

    async def replace(self, session_id: str, turns: list[TurnRecord]) -> None:
        collection = await self.collection()
        await self._run("replace", collection.delete_many({"session_id": session_id}))
        documents = [
            {"session_id": session_id, "index": turn["index"],
             "turn": encode_turn(turn).decode("utf-8", "surrogatepass")}
            for turn in turns
        ]
        if documents:
            await self._run("replace", collection.insert_many(documents))

    async def destroy(self, session_id: str) -> None:
        collection = await self.collection()
        await self._run("delete", collection.delete_many({"session_id": session_id}))

    async def entries(self) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        return await self._find({})

    async def _find(self, query: dict[str, Any]) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        collection = await self.collection()
        cursor = collection.find(query, {"_id": False}, sort=_ORDER)
        documents = await self._run("read", cursor.to_list(None))
        return [_entry(document) for document in documents]

    async def _run(self, action: str, awaitable: Any) -> Any:
        try:
            return await awaitable
        except PyMongoError as exc:
            raise StoreError(f"Cannot {action} the turns in MongoDB ({exc}).") from exc


def _entry(document: dict[str, Any]) -> tuple[str, TurnRecord | CorruptSessionError]:
    where = f"turn {document.get('index')!r} of {document.get('session_id')!r} in MongoDB"
    try:
        record = parse(document["turn"])
    except (KeyError, TypeError, ValueError):
        record = None
    if not isinstance(record, dict) or type(document.get("index")) is not int:
        return where, CorruptSessionError(f"{where} is not a turn; it is skipped.")
    record["index"] = document["index"]
    return where, record
