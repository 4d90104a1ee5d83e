"""Sessions in MongoDB, one document per session as Bottender keeps them, on pymongo's async client.

A document is the session record plus MongoDB's ``_id`` (never returned); it is found by its
``id`` field (a unique index), replaced whole on write (upserted when new) and read as absent
once ``lastActivity`` is older than ``expires_in``. Unlike Bottender, a failed read raises
instead of starting the conversation over, and a failed write raises instead of logging.

``ttl_index=True`` also lets MongoDB delete expired documents: each write stores the moment
the session expires as a date in ``_expiresAt`` (a TTL index needs a date, and Bottender's
``lastActivity`` is a number), under a TTL index with ``expireAfterSeconds=0``.

Documents a Bottender bot wrote may hold BSON values JSON has no word for (a ``Date`` it
kept in its state, an ``ObjectId``); they are read as JavaScript's ``JSON.stringify`` would
give them to that bot (ISO-8601 strings, hex strings), so every session stays JSON. A
document that is not a session record (``_state`` not an object, ``lastActivity`` not a
number, a NaN or infinite double anywhere) is a ``CorruptSessionError`` naming it.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ..errors import CorruptSessionError, StateError, StoreError, missing_extra
from ..record import LAST_ACTIVITY_FIELD, copy_record, validate_record
from .base import Clock, ExpiresIn, SessionStore
from .mongo_history import MongoHistory

try:
    from bson import Decimal128, ObjectId
    from pymongo import AsyncMongoClient
    from pymongo.errors import DuplicateKeyError, PyMongoError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without pymongo
    raise missing_extra("pymongo", "mongo") from exc

EXPIRES_AT_FIELD = "_expiresAt"
_HIDDEN = {"_id": False, EXPIRES_AT_FIELD: False}  # projection: what a session never shows


class MongoSessionStore(SessionStore):
    """Sessions as Bottender stores them in MongoDB (``collection_name``, field ``id``).

    :param url: a ``mongodb://`` URL; its database, else ``test`` (the Node driver's default,
        so this store finds a Bottender bot's sessions).
    :param ttl_index: let MongoDB delete expired sessions (needs ``expires_in``).
    :param client: a ready ``AsyncMongoClient`` to use instead of one made from ``url``.
    :param collection: a ready collection (tests pass a mongomock one behind an async shim).
    """

    def __init__(
        self, url: str = "mongodb://localhost:27017", collection_name: str = "sessions", *,
        expires_in: ExpiresIn = None, clock: Clock = time.time, ttl_index: bool = False,
        client: Any = None, collection: Any = None,
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        if ttl_index and self.expires_in is None:
            raise ValueError("ttl_index=True needs expires_in: without it no session expires.")
        self.url = url
        self.collection_name = collection_name
        self.ttl_index = ttl_index
        self._client = client
        self._owns_client = client is None and collection is None
        self._collection = collection
        self._ready = False
        self.history = MongoHistory(self.collection)

    def __repr__(self) -> str:
        return f"MongoSessionStore({self.url!r}, collection_name={self.collection_name!r})"

    async def init(self) -> MongoSessionStore:
        """Connect and create the indexes: ``id`` (unique), and the TTL index when asked."""
        if self._collection is None:
            if self._client is None:
                self._client = AsyncMongoClient(self.url)
            database = self._client.get_default_database("test")
            self._collection = database[self.collection_name]
        try:
            await self._collection.create_index("id", unique=True)
            if self.ttl_index:
                await self._collection.create_index(EXPIRES_AT_FIELD, expireAfterSeconds=0)
        except DuplicateKeyError as exc:
            raise StoreError(
                f"Cannot index {self.collection_name!r} by id: several documents share an id "
                f"({exc}). Keep the newest of each and delete the others."
            ) from exc
        except PyMongoError as exc:
            raise self._error("create the indexes of", exc) from exc
        self._ready = True
        return self

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.close()

    async def collection(self) -> Any:
        """The collection (pymongo's ``AsyncCollection``), connected on first use."""
        if not self._ready:
            await self.init()
        return self._collection

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        collection = await self.collection()
        try:
            document: dict[str, Any] | None = await collection.find_one({"id": session_id}, _HIDDEN)
        except PyMongoError as exc:
            raise self._error(f"read session {session_id!r} from", exc) from exc
        return None if document is None else self._record(document)

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Replace (or insert) the session's document; a non-JSON value raises, storing nothing."""
        await self._write(session_id, copy_record(session))

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        document = {**record, "id": session_id}
        if self.ttl_index:
            document[EXPIRES_AT_FIELD] = self._expires_at(record)
        collection = await self.collection()
        problem = _bson_problem(document, "session")
        if problem is not None:  # refused whole, before the driver could write part of it
            raise StateError(
                f"MongoDB cannot store session {session_id!r}: {problem}; the stored session "
                "is unchanged."
            )
        try:
            await collection.replace_one({"id": session_id}, document, upsert=True)
        except PyMongoError as exc:
            raise self._error(f"write session {session_id!r} to", exc) from exc

    async def _destroy(self, session_id: str) -> None:
        collection = await self.collection()
        try:
            await collection.delete_one({"id": session_id})
        except PyMongoError as exc:
            raise self._error(f"delete session {session_id!r} from", exc) from exc

    async def purge_expired(self) -> int:
        """Delete the documents of expired sessions, and their histories; how many went.

        Each is deleted only if it is still expired when deleted, so an event that renewed
        the session meanwhile keeps it.
        """
        if self.expires_in is None:
            return 0
        cutoff = {LAST_ACTIVITY_FIELD: {"$lt": self.clock() * 1000 - self.expires_in.total_seconds() * 1000}}
        collection = await self.collection()
        purged = 0
        try:
            for document in await collection.find(cutoff, {"_id": False, "id": True}).to_list(None):
                deleted = await collection.delete_one({"id": document.get("id"), **cutoff})
                if deleted.deleted_count:
                    await self.history.destroy(document.get("id"))
                    purged += 1
        except PyMongoError as exc:
            raise self._error("purge the expired sessions of", exc) from exc
        return purged

    async def _all(self) -> list[dict[str, Any]]:
        collection = await self.collection()
        try:
            documents = await collection.find({}, _HIDDEN).to_list(None)
        except PyMongoError as exc:
            raise self._error("list the sessions of", exc) from exc
        return [self._record(document) for document in documents]

    async def entries(self) -> list[tuple[str, dict[str, Any] | CorruptSessionError]]:
        """Every document, expired or not: ``(where, record or its CorruptSessionError)``."""
        collection = await self.collection()
        try:
            documents = await collection.find({}, _HIDDEN).to_list(None)
        except PyMongoError as exc:
            raise self._error("list the sessions of", exc) from exc
        found: list[tuple[str, dict[str, Any] | CorruptSessionError]] = []
        for document in documents:
            try:
                found.append((self._where(document), self._record(document)))
            except CorruptSessionError as exc:
                found.append((self._where(document), exc))
        return found

    def _record(self, document: dict[str, Any]) -> dict[str, Any]:
        """The session record a document holds, checked; CorruptSessionError naming it if not."""
        where = self._where(document)
        try:
            record = _json_safe(document)
        except ValueError as exc:
            raise CorruptSessionError(f"{where} {exc}; fix or delete it.") from exc
        return validate_record(record, where=where)

    def _where(self, document: Mapping[str, Any]) -> str:
        return f"The MongoDB document with id {document.get('id')!r} in {self.collection_name!r}"

    def _expires_at(self, record: Mapping[str, Any]) -> dt.datetime:
        last_activity = record.get(LAST_ACTIVITY_FIELD)
        if not isinstance(last_activity, (int, float)) or isinstance(last_activity, bool):
            last_activity = self.clock() * 1000
        assert self.expires_in is not None
        start = dt.datetime.fromtimestamp(last_activity / 1000, dt.timezone.utc)
        return start + self.expires_in

    def _error(self, action: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"Cannot {action} MongoDB collection {self.collection_name!r} at {self.url} ({exc}). "
            "Is mongod running there and reachable?"
        )


def _bson_problem(value: Any, path: str) -> str | None:
    """What in a JSON-safe ``value`` BSON cannot hold, and where: ``session['_state']['n']``."""
    if isinstance(value, str):
        return None if _encodes(value) else _LONE_SURROGATE.format(path)
    if isinstance(value, int) and not isinstance(value, bool):
        return None if _INT64_MIN <= value <= _INT64_MAX else _BIG_INT.format(path, value)
    if isinstance(value, dict):
        pairs: Any = value.items()
    elif isinstance(value, list):
        pairs = enumerate(value)
    else:
        return None
    for key, item in pairs:
        here = f"{path}[{key!r}]"
        if isinstance(key, str) and not _encodes(key):
            return _LONE_SURROGATE.format(f"the key of {here}")
        problem = _bson_problem(item, here)
        if problem is not None:
            return problem
    return None


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LONE_SURROGATE = (
    "{} holds a lone surrogate, which BSON's UTF-8 strings cannot carry (the JSON-text stores "
    "escape it); store text whose surrogates come in pairs"
)
_BIG_INT = "{} holds {}, beyond BSON's 64-bit integers; store it as a string"


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_safe(value: Any) -> Any:
    """``value`` with BSON-only types as ``JSON.stringify`` gives them to a Bottender bot."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dt.datetime):  # BSON dates are UTC; pymongo reads them naive
        moment = value if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if isinstance(value, (ObjectId, Decimal128, uuid.UUID)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"holds the double {value!r}, which JSON cannot carry")
    return value
