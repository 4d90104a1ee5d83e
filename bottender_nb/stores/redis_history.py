"""The Redis store's histories: a list of turns per session, next to its key, never read as one.

A session at ``prefix + id`` (say ``console:1``) keeps its turns at ``{tag}:history:console:1``
(a list, one turn's JSON per element) and its next index at ``{tag}:history-next:console:1``
(a hash), in the session key's cluster slot (:mod:`.redis_keys`).

* **Never a session.** Bottender's ``RedisCacheStore.all()`` SCANs every key and ``MGET``s
  them; this package's ``all()`` SCANs ``prefix*`` and ``MGET``s. ``MGET`` answers nil for a
  list or a hash, and both skip nil: so a history lives only in lists and hashes.
* **Appends cost the same at turn 10 and 10,000**: one script, ``HINCRBY`` the next index,
  ``RPUSH`` the turn, ``LTRIM`` to the newest ``keep`` (one element removed per append once
  full). Atomic in Redis: two processes appending lose none and get indexes in order.

The store's write script appends a session's turn together with its session write, and gives
the history keys the session key's TTL, so a history expires with its session; ``keep`` bounds
each, and ``destroy`` removes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..errors import CorruptSessionError
from ..record import parse
from .history import History, TurnRecord, encode_turn
from .redis_keys import HISTORY, NEXT, glob_escape, is_lock_key, lock_key

if TYPE_CHECKING:
    from .redis_client import RedisClient

# KEYS: history, next. ARGV: keep, the turn's JSON after its "{". The turn's index.
APPEND = """
local index = redis.call('HINCRBY', KEYS[2], 'next', 1) - 1
redis.call('RPUSH', KEYS[1], '{"index":' .. string.format('%d', index) .. ',' .. ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return index
"""
# KEYS: history, next. ARGV: an index. Takes that turn back if it is the last one.
UNDO = """
local last = redis.call('LINDEX', KEYS[1], -1)
if last and string.match(last, '^{"index":(%d+),') == ARGV[1] then
  redis.call('RPOP', KEYS[1])
  redis.call('HSET', KEYS[2], 'next', ARGV[1])
end
"""
# KEYS: history, next. ARGV: the next index, then each turn's JSON. How many were kept.
REPLACE = """
redis.call('DEL', KEYS[1], KEYS[2])
if #ARGV > 1 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
  redis.call('HSET', KEYS[2], 'next', ARGV[1])
end
return #ARGV - 1
"""


class RedisHistory(History):
    """Each session's turns in a Redis list beside its key (see the module docstring)."""

    def __init__(self, redis: RedisClient, prefix: str = "") -> None:
        self.redis, self.prefix = redis, prefix

    def keys(self, session_id: str) -> list[str]:
        """The session's history list and next-index hash."""
        key = self.prefix + session_id
        return [lock_key(key, HISTORY), lock_key(key, NEXT)]

    async def append(self, session_id: str, turn: TurnRecord, keep: int) -> int:
        body = encode_turn(turn)[1:]
        turn["index"] = index = int(await self.redis.run(APPEND, self.keys(session_id), [keep, body]))
        return index

    async def undo(self, session_id: str, index: int) -> None:
        await self.redis.run(UNDO, self.keys(session_id), [index])

    async def read(self, session_id: str) -> list[TurnRecord]:
        entries = await self._list(self.keys(session_id)[0])
        return [entry for _, entry in entries if not isinstance(entry, CorruptSessionError)]

    async def replace(self, session_id: str, turns: list[TurnRecord]) -> None:
        values = [b'{"index":%d,%s' % (turn["index"], encode_turn(turn)[1:]) for turn in turns]
        next_index = turns[-1]["index"] + 1 if turns else 0
        await self.redis.run(REPLACE, self.keys(session_id), [next_index, *values])

    async def destroy(self, session_id: str) -> None:
        await self.redis.command(self.redis.get().delete(*self.keys(session_id)))

    async def entries(self) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        match = "{*}" + HISTORY + glob_escape(self.prefix) + "*"
        found = self.redis.get().scan_iter(match=match, count=1000)
        keys = sorted({_text(key) async for key in found})
        entries: list[tuple[str, TurnRecord | CorruptSessionError]] = []
        for key in keys:
            if is_lock_key(key, (HISTORY,)):
                entries += await self._list(key)
        return entries

    async def entry_batches(
        self, size: int = 10_000
    ) -> AsyncIterator[list[tuple[str, TurnRecord | CorruptSessionError]]]:
        """SCAN the history lists (every primary of a cluster) and LRANGE each as it is found:
        a batch is yielded once it holds ``size`` turns, so no more than that is kept."""
        match = "{*}" + HISTORY + glob_escape(self.prefix) + "*"
        seen: set[str] = set()
        batch: list[tuple[str, TurnRecord | CorruptSessionError]] = []
        async for found in self.redis.get().scan_iter(match=match, count=1000):
            key = _text(found)
            if key in seen or not is_lock_key(key, (HISTORY,)):
                continue
            seen.add(key)
            batch += await self._list(key)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def _list(self, key: str) -> list[tuple[str, TurnRecord | CorruptSessionError]]:
        values = await self.redis.command(self.redis.get().lrange(key, 0, -1), key)
        entries: list[tuple[str, TurnRecord | CorruptSessionError]] = []
        for number, value in enumerate(values):
            where = f"Redis list {key!r}[{number}]"
            try:
                record = parse(value)
            except ValueError:
                record = None
            ok = isinstance(record, dict)
            entries.append((where, record if ok else CorruptSessionError(f"{where} is not a turn.")))
        return entries


def _text(key: Any) -> str:
    return key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
