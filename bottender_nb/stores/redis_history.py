"""The Redis store's histories: a list of turns per session, next to its key, never read as one.

Key names, and why: a session lives at ``prefix + session id`` (say ``console:1``); its turns
at ``{tag}:history:console:1`` (a list, one turn's JSON per element) and the next index at
``{tag}:history-next:console:1`` (a hash with one field, ``next``).

* **Never a session.** Bottender's ``RedisCacheStore.all()`` SCANs every key of the database
  and ``MGET``s them all, and this package's ``all()`` SCANs ``prefix*`` and ``MGET``s what it
  finds. ``MGET`` answers nil for a key that holds a list or a hash, and both skip nil: so a
  history is kept only in lists and hashes, never in a string key (a counter in a string key
  would show up in Bottender's ``all()`` as a session). Bottender's ``get`` reads only
  ``prefix + id``.
* **One slot.** ``tag`` is a hash tag that Redis Cluster hashes to the session key's own slot
  (the key's hash tag, else the whole key, else a number found for that slot), so one Lua
  script touches the session's keys together, on a cluster as on one server.
* **Appends cost the same at turn 10 and 10,000.** One script: ``HINCRBY`` the next index,
  ``RPUSH`` the turn (its JSON opening with ``{"index":N,``), ``LTRIM`` to the newest ``keep``
  (LTRIM costs the number of elements removed: one per append, once the list is full).
  Atomic in Redis, so two processes appending lose none and get indexes in order.

Histories do not expire with their session (Redis expires the session key alone); ``keep``
bounds each, and ``destroy`` removes it.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

from ..errors import CorruptSessionError, StoreError, missing_extra
from ..record import parse
from .history import History, TurnRecord, encode_turn

try:
    from redis.crc import key_slot
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisClusterException, RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

HISTORY, NEXT = ":history:", ":history-next:"
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, RedisClusterException, OSError)

_APPEND = """
local index = redis.call('HINCRBY', KEYS[2], 'next', 1) - 1
redis.call('RPUSH', KEYS[1], '{"index":' .. string.format('%d', index) .. ',' .. ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return index
"""
_REPLACE = """
redis.call('DEL', KEYS[1], KEYS[2])
if #ARGV > 1 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
  redis.call('HSET', KEYS[2], 'next', ARGV[1])
end
return #ARGV - 1
"""


class RedisHistory(History):
    """Each session's turns in a Redis list beside its key (see the module docstring).

    :param client: a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``.
    :param prefix: the session store's key prefix (a session's key is ``prefix + id``).
    """

    def __init__(self, client: Any, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._append = client.register_script(_APPEND)
        self._replace = client.register_script(_REPLACE)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client!r}, prefix={self.prefix!r})"

    def keys(self, session_id: str) -> tuple[str, str]:
        """The session's history list and next-index hash."""
        return history_key(self.prefix + session_id), history_key(self.prefix + session_id, NEXT)

    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        body = encode_turn(turn)[1:]
        index = int(await self._run(self._append(keys=self.keys(session_id), args=[keep, body])))
        turn["index"] = index
        return index

    async def read(self, session_id: str) -> list[TurnRecord]:
        key = self.keys(session_id)[0]
        entries = _parsed(key, await self._run(self.client.lrange(key, 0, -1)))
        return [entry for _, entry in entries if not isinstance(entry, CorruptSessionError)]

    async def replace(self, session_id: str, turns: list[TurnRecord]) -> None:
        values = [b'{"index":%d,%s' % (turn["index"], encode_turn(turn)[1:]) for turn in turns]
        next_index = turns[-1]["index"] + 1 if turns else 0
        await self._run(self._replace(keys=self.keys(session_id), args=[next_index, *values]))

    async def destroy(self, session_id: str) -> None:
        await self._run(self.client.delete(*self.keys(session_id)))

    async def entries(self) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        match = "{*}" + HISTORY + _glob_escape(self.prefix) + "*"
        found = [key async for key in self.client.scan_iter(match=match, count=1000)]
        keys = sorted({_text(key) for key in found if is_history_key(_text(key))})
        entries: list[tuple[str, TurnRecord | CorruptSessionError]] = []
        for key in keys:
            entries += _parsed(key, await self._run(self.client.lrange(key, 0, -1)))
        return entries

    async def _run(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except _UNREACHABLE as exc:
            raise StoreError(
                f"Cannot reach Redis to keep or read turns ({exc}). Is redis-server running "
                "there, and are host, port and password right?"
            ) from exc
        except RedisError as exc:
            raise StoreError(f"Redis refused a history command: {exc}") from exc


def history_key(key: str, mark: str = HISTORY) -> str:
    """``{tag}:history:<key>`` (or ``mark``): a key in session key ``key``'s cluster slot."""
    return "{" + _hash_tag(key) + "}" + mark + key


def is_history_key(key: str) -> bool:
    """True for a key :func:`history_key` made: a session listing skips it."""
    end = key.find("}")
    if not key.startswith("{") or end == -1:
        return False
    for mark in (HISTORY, NEXT):
        if key.startswith(mark, end + 1) and history_key(key[end + 1 + len(mark):], mark) == key:
            return True
    return False


def _parsed(key: str, values: list[Any]) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
    entries: list[tuple[str, TurnRecord | CorruptSessionError]] = []
    for number, value in enumerate(values):
        where = f"Redis list {key!r}[{number}]"
        try:
            record = parse(value)
        except ValueError:
            record = None
        if isinstance(record, dict):
            entries.append((where, record))
        else:
            entries.append((where, CorruptSessionError(f"{where} is not a turn; it is skipped.")))
    return entries


def _hash_tag(key: str) -> str:
    """A brace-free string that Redis Cluster hashes to the slot of ``key``."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1:end]  # the key's own hash tag
    if key and "}" not in key:
        return key  # the whole key is hashed, and "{key}" hashes it alike
    return _tag_for_slot(key_slot(key.encode()))


@functools.lru_cache(maxsize=1024)
def _tag_for_slot(slot: int) -> str:
    return next(str(n) for n in itertools.count() if key_slot(str(n).encode()) == slot)


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "\\*?[]" else char for char in text)


def _text(key: Any) -> str:
    return key.decode(errors="replace") if isinstance(key, bytes) else key
