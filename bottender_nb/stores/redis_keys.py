"""Redis key names of the session lock, and the Lua scripts that take, renew and release it.

Key layout: a session lives at ``prefix + session id`` (Bottender's name, so Bottender reads
it). Its lock lives at ``{tag}:lock:<key>``, where ``tag`` is a *hash tag* that Redis Cluster
hashes to the same slot as the session key itself; two more keys share it: ``{tag}:next:<key>``
promises the next turn to a waiting process and ``{tag}:wake:<key>`` is the list that process
blocks on. One slot for all four keys lets a single script touch them together on a cluster.
The tag is the key's own hash tag if it has one, else the whole key, else (a key holding ``}``
or the empty key) a number found to hash to the key's slot.

Each script works on many sessions at once (KEYS and ARGV a run per session), so one
``EVALSHA`` serves every session of a batch (see :mod:`.redis_pipeline`).
"""

from __future__ import annotations

import functools
import itertools

from ..errors import missing_extra

try:
    from redis.crc import key_slot
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

LOCK, NEXT, WAKE = ":lock:", ":next:", ":wake:"  # a session's lock keys: "{tag}" + mark + key

# KEYS per session: key, lock, next, wake. ARGV: lock ms, promise ms, then a token each.
# Free and not promised to another process -> take it: {1, value}. Else wait, as the one
# promised the next turn if nobody is yet: {0, 1 if promised to us}. Not a string: {2, type}.
_ACQUIRE = """
local lock_ms, promise_ms, out = ARGV[1], ARGV[2], {}
for k = 1, #KEYS / 4 do
  local lock, next, token = KEYS[4 * k - 2], KEYS[4 * k - 1], ARGV[k + 2]
  local owner, promised = redis.call('GET', lock), redis.call('GET', next)
  local kind = redis.call('TYPE', KEYS[4 * k - 3]).ok
  if kind ~= 'string' and kind ~= 'none' then
    out[k] = {2, kind}
  elseif (owner == false or owner == token) and (promised == false or promised == token) then
    redis.call('SET', lock, token, 'PX', lock_ms)
    if promised then redis.call('DEL', next, KEYS[4 * k]) end
    out[k] = {1, redis.call('GET', KEYS[4 * k - 3])}
  else
    if promised == false or promised == token then
      redis.call('SET', next, token, 'PX', promise_ms)
      promised = token
    end
    out[k] = {0, promised == token and 1 or 0}
  end
end
return out
"""
# KEYS per session: key, lock, next, wake. ARGV: lease ms, ttl s, promise ms, then token and
# value each. Still ours -> write, then keep the lock as a lease (1) or, when another process
# waits, hand it on and wake that process (2). Not ours -> write nothing (0).
_WRITE = """
local ms, ttl, promise_ms, out = ARGV[1], tonumber(ARGV[2]), ARGV[3], {}
for k = 1, #KEYS / 4 do
  local key, lock, wake = KEYS[4 * k - 3], KEYS[4 * k - 2], KEYS[4 * k]
  if redis.call('GET', lock) == ARGV[2 * k + 2] then
    if ttl > 0 then redis.call('SETEX', key, ttl, ARGV[2 * k + 3])
    else redis.call('SET', key, ARGV[2 * k + 3]) end
    if redis.call('EXISTS', KEYS[4 * k - 1]) == 1 then
      redis.call('DEL', lock)
      redis.call('RPUSH', wake, 1)
      redis.call('PEXPIRE', wake, promise_ms)
      out[k] = 2
    else
      redis.call('PEXPIRE', lock, ms)
      out[k] = 1
    end
  else
    out[k] = 0
  end
end
return out
"""
# KEYS per session: lock. ARGV: lock ms, then a token each.
_RENEW = """
local ms, out = ARGV[1], {}
for k = 1, #KEYS do
  out[k] = 0
  if redis.call('GET', KEYS[k]) == ARGV[k + 1] then out[k] = redis.call('PEXPIRE', KEYS[k], ms) end
end
return out
"""
# KEYS per session: lock, next, wake. ARGV: promise ms, then a token each. Wakes the next.
_RELEASE = """
local out = {}
for k = 1, #KEYS / 3 do
  out[k] = 0
  if redis.call('GET', KEYS[3 * k - 2]) == ARGV[k + 1] then
    out[k] = redis.call('DEL', KEYS[3 * k - 2])
    if redis.call('EXISTS', KEYS[3 * k - 1]) == 1 then
      redis.call('RPUSH', KEYS[3 * k], 1)
      redis.call('PEXPIRE', KEYS[3 * k], ARGV[1])
    end
  end
end
return out
"""


class Script:
    """A Lua script run for many sessions at once: its fixed arguments, then theirs."""

    def __init__(self, source: str) -> None:
        import hashlib

        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


ACQUIRE, WRITE, RENEW, RELEASE = map(Script, (_ACQUIRE, _WRITE, _RENEW, _RELEASE))


def lock_key(key: str, mark: str = LOCK) -> str:
    """A lock key of session key ``key``: ``{tag}:lock:<key>``, in ``key``'s cluster slot.

    ``mark=NEXT`` names the key that promises the next turn to a waiting process, and
    ``mark=WAKE`` the list that process blocks on until the lock is handed to it.
    """
    return "{" + _hash_tag(key) + "}" + mark + key


def is_lock_key(key: str) -> bool:
    """True for a key :func:`lock_key` made: listing sessions skips it."""
    end = key.find("}")
    if not key.startswith("{"):
        return False
    for mark in (LOCK, NEXT, WAKE):
        if key.startswith(mark, end + 1) and lock_key(key[end + 1 + len(mark):], mark) == key:
            return True
    return False


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
    # Only "" and keys holding "}" without a hash tag get here; ~16k tries find a number.
    return next(str(n) for n in itertools.count() if key_slot(str(n).encode()) == slot)


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis ``MATCH`` pattern."""
    return "".join("\\" + char if char in "\\*?[]" else char for char in text)
