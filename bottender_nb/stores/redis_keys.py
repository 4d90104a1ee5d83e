"""The Redis keys kept beside a session, and the Lua scripts (one round trip each) on them.

A session's lock lives at ``{tag}:lock:<key>`` (``key`` is ``prefix + session id``), holding
its owner's token and expiring by itself; its history beside it (:mod:`.redis_history`). ``tag`` is a hash tag Redis Cluster
hashes to the key's own slot, so one script may touch them together: the key's own hash tag,
else the whole key, else (the empty key, or one holding ``}``) a number found for that slot.

A token is ``<store id>:<n>``. A store takes over a lock that carries its own id: its events of
a session take turns inside its process first, so such a lock is left over from an event of its
own that failed, was cancelled or could not reach Redis to release it, never a live one.
"""

from __future__ import annotations

import functools
import itertools

from ..errors import missing_extra

try:
    from redis.crc import key_slot
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

LOCK, HISTORY, NEXT = ":lock:", ":history:", ":history-next:"
WRITTEN, WANTED = ":written:", ":wanted:"

# KEYS: key, lock, wanted. ARGV: token, lock ms, this store's token prefix, wanted ms. Free, or
# left over by this store -> {1, value} (GET first: a key of another type fails before the lock
# is taken). Held by another -> {0}, and ``wanted`` says for ``wanted ms`` that someone waits,
# so its owner releases in its next write instead of keeping the lock (:mod:`.kept`). Like
# ``written``, it is a list: MGET, and so every session listing, skips it.
ACQUIRE = """
local owner = redis.call('GET', KEYS[2])
if owner and string.sub(owner, 1, #ARGV[3]) ~= ARGV[3] then
  redis.call('LPUSH', KEYS[3], 1)
  redis.call('LTRIM', KEYS[3], 0, 0)
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  return {0}
end
local value = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {1, value}
"""
# KEYS: key, lock, history, next index, written, wanted. ARGV: token, ttl seconds (0: none),
# value, keep, the turn's JSON after its "{" ("": no turn), written ms, this write's id, lock ms
# to keep the lock for (0: release it).
# -> {1, turn index or -1, 1 if the lock was kept} once written; {0} when the lock is not ours
# and this write never ran. The session, its turn and the lock's release in one step; or, when
# asked and nobody is waiting (``wanted``), the lock's full timeout again, kept for the session's
# next event (:mod:`.kept`). ``written`` lists the last 16 writes' ids, each before its turn's
# index, so a call that redis-py sends again after a dropped connection finds its first run
# landed (and releases the lock) instead of a lost lock. LPOS (Redis 6.0.6) finds it in C: a
# Lua loop over the list cost a third of the script's time.
WRITE = """
local done = redis.call('LPOS', KEYS[5], ARGV[7], 'MAXLEN', 32)
if done then
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
  return {1, tonumber(redis.call('LINDEX', KEYS[5], done + 1)), 0}
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {0} end
if ARGV[2] == '0' then redis.call('SET', KEYS[1], ARGV[3])
else redis.call('SETEX', KEYS[1], ARGV[2], ARGV[3]) end
local index = -1
if ARGV[5] ~= '' then
  index = redis.call('HINCRBY', KEYS[4], 'next', 1) - 1
  redis.call('RPUSH', KEYS[3], '{"index":' .. string.format('%d', index) .. ',' .. ARGV[5])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
end
if ARGV[2] ~= '0' then
  redis.call('EXPIRE', KEYS[3], ARGV[2])
  redis.call('EXPIRE', KEYS[4], ARGV[2])
end
local kept = 0
if ARGV[8] ~= '0' and redis.call('EXISTS', KEYS[6]) == 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
  kept = 1
else redis.call('DEL', KEYS[2]) end
redis.call('LPUSH', KEYS[5], index, ARGV[7])
redis.call('LTRIM', KEYS[5], 0, 31)
redis.call('PEXPIRE', KEYS[5], ARGV[6])
return {1, index, kept}
"""
# KEYS: lock. ARGV: token, lock ms. Still ours -> the full lock_timeout again: 1.
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
# KEYS: lock. ARGV: token. Still ours -> delete it: 1.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


def lock_key(key: str, mark: str = LOCK) -> str:
    """``{tag}:lock:<key>`` (or another ``mark``): a key in session key ``key``'s slot."""
    return "{" + _hash_tag(key) + "}" + mark + key


def is_lock_key(key: str, marks: tuple[str, ...] = (LOCK,)) -> bool:
    """True for a key :func:`lock_key` made (with one of ``marks``): listings skip it."""
    end = key.find("}")
    return key.startswith("{") and any(
        key.startswith(mark, end + 1) and lock_key(key[end + 1 + len(mark):], mark) == key
        for mark in marks
    )


def _hash_tag(key: str) -> str:
    """A brace-free string that Redis Cluster hashes to the slot of ``key``."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1:end]  # the key's own hash tag
    if key and "}" not in key:
        return key  # the whole key is hashed, and "{key}" hashes it alike
    return _tag_for_slot(key_slot(key.encode("utf-8", "surrogateescape")))


@functools.lru_cache(maxsize=1024)
def _tag_for_slot(slot: int) -> str:
    # Only "" and keys holding "}" without a hash tag get here; ~16k tries find a number.
    return next(str(n) for n in itertools.count() if key_slot(str(n).encode()) == slot)


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis ``MATCH`` pattern."""
    return "".join("\\" + char if char in "\\*?[]" else char for char in text)
