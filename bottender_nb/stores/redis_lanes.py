"""The pipeline's lanes: what sends a batch of script calls to Redis and brings the replies.

A lane groups a batch's calls by script (and, on a cluster, by slot) into one ``EVALSHA``
each. :class:`ConnectionExecutor` writes them all at once on a connection of its own -- the
lean one of :mod:`.redis_socket`, or redis-py's (:class:`RedisPyConnection`) where that one
cannot connect alike (TLS ...); :class:`ClusterExecutor` goes through redis-py's cluster
client, which routes each group to its slot's node.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import missing_extra
from .redis_busy_poll import BusyPoll
from .redis_keys import Script
from .redis_pipeline import Call
from .redis_resp import Arguments, bulk, bulk_of

try:
    from redis.crc import key_slot
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

DRIVER_ERRORS = (RedisError, RedisClusterException, OSError)
_timeout: Any = getattr(asyncio, "timeout", None)
if _timeout is None:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _timeout
_BATCH = 256  # sessions per script call: a long script would block Redis for everyone
_NONE = Arguments()


class _Executor:
    """Runs groups of calls of one script (and one cluster slot) as one EVALSHA each."""

    def __init__(self, client: Any, heads: dict[Script, list[Any]], error: Any) -> None:
        self._client = client
        self._heads = {script: Arguments(*values) for script, values in heads.items()}
        self._error = error

    def group(self, calls: list[Call]) -> list[list[Call]]:
        groups: dict[tuple[Script, int], list[Call]] = {}
        for call in calls:
            groups.setdefault((call.script, self._slot(call.keys.values[0])), []).append(call)
        return [
            group[start:start + _BATCH]
            for group in groups.values() for start in range(0, len(group), _BATCH)
        ]

    def _slot(self, key: str) -> int:
        return 0

    def command(self, group: list[Call], name: str = "EVALSHA") -> list[Any]:
        script = group[0].script
        keys = [key for call in group for key in call.keys.values]
        args = list(self._heads.get(script, _NONE).values)
        for call in group:
            args += call.args.values
            if call.value is not None:
                args.append(call.value)
        body = script.source if name == "EVAL" else script.sha
        return [name, body, len(keys), *keys, *args]

    async def close(self) -> None:
        pass


class ConnectionExecutor(_Executor):
    """A connection of its own, every group of a batch in one write.

    A connection that was open and is found lost (a restarted server) is opened again once;
    a server that flushed its scripts gets them as ``EVAL``.
    """

    def __init__(
        self, client: Any, heads: dict[Script, list[Any]], error: Any, connection: Any
    ) -> None:
        super().__init__(client, heads, error)
        self._connection = connection
        self._headers: dict[tuple[str, Script, int, int], bytes] = {}

    async def run(self, groups: list[list[Call]]) -> list[Any]:
        """Each group's replies, or the exception that group got."""
        connection = self._connection
        fresh = not connection.is_connected
        packed = b"".join([self.pack(group) for group in groups])
        try:
            try:
                replies = await connection.round_trip(packed, len(groups))
            except RedisConnectionError:
                if fresh:
                    raise
                replies = await connection.round_trip(packed, len(groups))
            for index, reply in enumerate(replies):
                if isinstance(reply, NoScriptError):  # a restarted or flushed server
                    [replies[index]] = await connection.round_trip(
                        self.pack(groups[index], "EVAL"), 1
                    )
        except DRIVER_ERRORS as exc:
            raise self._error(exc) from exc
        return [self._error(reply) if isinstance(reply, RedisError) else reply for reply in replies]

    def pack(self, group: list[Call], name: str = "EVALSHA") -> bytes:
        """One EVALSHA (or EVAL) for the group, from the parts its sessions encoded once."""
        script = group[0].script
        heads = self._heads.get(script, _NONE)
        parts, keys, args = [b""], 0, len(heads.values)
        for call in group:
            parts.append(call.keys.resp)
            keys += len(call.keys.values)
        parts.append(heads.resp)
        for call in group:
            parts.append(call.args.resp)
            args += len(call.args.values)
            if call.value is not None:
                parts.append(bulk(call.value))
                args += 1
        parts[0] = self._header(name, script, keys, args)
        return b"".join(parts)

    def _header(self, name: str, script: Script, keys: int, args: int) -> bytes:
        """``*N EVALSHA sha numkeys``: the same for every call of a script by one session."""
        shape = (name, script, keys, args)
        header = self._headers.get(shape)
        if header is None:
            body = script.source if name == "EVAL" else script.sha
            header = b"*%d\r\n%s%s%s" % (
                3 + keys + args, bulk_of(name), bulk_of(body), bulk_of(keys)
            )
            if len(self._headers) < 1024:  # batch sizes vary; lone calls repeat
                self._headers[shape] = header
        return header

    async def close(self) -> None:
        await self._connection.close()


class RedisPyConnection:
    """A connection of the client's own pool kind (TLS and the like): a lane's fallback.

    Its replies come through redis-py's stream reader, so busy polling here keeps a callback
    in the loop (:class:`.BusyPoll`) rather than polling the socket itself.
    """

    def __init__(self, client: Any, busy_poll: BusyPoll) -> None:
        self._busy_poll = busy_poll
        pool = client.connection_pool
        self._timeout = pool.connection_kwargs.get("socket_timeout")
        # Timeouts are ours (one per round trip): redis-py's would add a task per send.
        self._connection = pool.connection_class(
            **{**pool.connection_kwargs, "socket_timeout": None}
        )

    @property
    def is_connected(self) -> bool:
        return bool(self._connection.is_connected)

    async def round_trip(self, packed: bytes, count: int) -> list[Any]:
        """Send ``count`` packed commands; their replies, an error reply as its exception."""
        connection = self._connection
        self._busy_poll.begin()
        try:
            async with _timeout(self._timeout):
                await connection.send_packed_command(packed, False)
                replies = []
                for _ in range(count):
                    try:
                        replies.append(await connection.read_response())
                    except ResponseError as exc:  # this command failed; the others stand
                        replies.append(exc)
                return replies
        finally:
            self._busy_poll.end()

    async def close(self) -> None:
        await self._connection.disconnect()


class ClusterExecutor(_Executor):
    """Through the cluster client, which routes each group to its slot's node."""

    def _slot(self, key: str) -> int:
        return key_slot(key.encode())

    async def run(self, groups: list[list[Call]]) -> list[Any]:
        return list(await asyncio.gather(*(self._one(group) for group in groups)))

    async def _one(self, group: list[Call]) -> Any:
        try:
            try:
                return await self._client.execute_command(*self.command(group))
            except NoScriptError:
                return await self._client.execute_command(*self.command(group, "EVAL"))
        except DRIVER_ERRORS as exc:
            return self._error(exc)
