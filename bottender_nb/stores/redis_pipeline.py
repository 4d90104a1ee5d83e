"""Auto-pipelining of the store's Lua script calls, as ioredis does it.

Why: through redis-py each command costs a round trip of its own, which caps the events/s a
store can run. Here each lane (a connection of its own, or the cluster client) has at most
one batch of script calls in flight; the calls made meanwhile form the next batch, one
``EVALSHA`` per script for all their sessions, so many conversations share each round trip,
and an idle store still sends a lone call at once. The RESP is packed here, and replies are
read straight off the lane's connection.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError, missing_extra
from .redis_busy_poll import BusyPoll
from .redis_keys import Script

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


def pack_command(command: list[Any]) -> bytes:
    """A command in the Redis protocol; its arguments are str, bytes (values) or int."""
    return b"*%d\r\n" % len(command) + b"".join(
        _bulk(argument) if type(argument) is bytes else _bulk_of(argument) for argument in command
    )


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


@functools.lru_cache(maxsize=8192)
def _bulk_of(argument: str | int) -> bytes:
    # Keys, tokens and numbers repeat from event to event of a session: encode them once.
    return _bulk(str(argument).encode())


def _failed(outcome: Any) -> bool:
    return isinstance(outcome, BaseException)


def _settle(future: asyncio.Future[Any] | None, outcome: Any) -> None:
    if future is None or future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif _failed(outcome):
        future.set_exception(_own_copy(outcome))
    else:
        future.set_result(outcome)


def _own_copy(exc: BaseException) -> BaseException:
    """A StoreError of its own for each waiting caller, so their tracebacks do not pile up."""
    if type(exc) is not StoreError:
        return exc
    copy = StoreError(*exc.args)
    copy.__cause__ = exc.__cause__
    return copy


@dataclass(slots=True)
class _Call:
    script: Script
    keys: list[str]
    args: list[Any]
    future: asyncio.Future[Any] | None = None


class Pipeline:
    """Auto-pipelining: a batch of script calls in flight per lane; calls made meanwhile wait.

    A free lane sends a call straight from the caller's task (no hop through the loop); a
    lane that comes back takes every waiting call, one ``EVALSHA`` per script. With two
    lanes this process runs the events of one batch while Redis runs the scripts of another.
    """

    def __init__(self, lanes: list[Any]) -> None:
        self._lanes = lanes
        self._free = list(lanes)
        self._queue: list[_Call] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        if not self._free:
            future = asyncio.get_running_loop().create_future()
            self._queue.append(_Call(script, keys, args, future))
            return await future
        lane = self._free.pop()
        try:
            [outcome] = await lane.run([[_Call(script, keys, args)]])
        finally:
            self._next(lane)
        if _failed(outcome):
            raise outcome
        return outcome[0]

    def _next(self, lane: Any) -> None:
        if not self._queue:
            self._free.append(lane)
            return
        calls, self._queue = self._queue, []
        task = asyncio.ensure_future(self._run(lane, calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, lane: Any, calls: list[_Call]) -> None:
        try:
            groups = lane.group(calls)
            outcomes = await lane.run(groups)
            for group, outcome in zip(groups, outcomes):
                for index, call in enumerate(group):
                    _settle(call.future, outcome if _failed(outcome) else outcome[index])
        except BaseException as exc:  # nobody may wait forever
            for call in calls:
                _settle(call.future, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._next(lane)

    async def close(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for lane in self._lanes:
            await lane.close()


class _Executor:
    """Runs groups of calls of one script (and one cluster slot) as one EVALSHA each."""

    def __init__(self, client: Any, heads: dict[Script, list[Any]], error: Any) -> None:
        self._client = client
        self._heads = heads
        self._error = error

    def group(self, calls: list[_Call]) -> list[list[_Call]]:
        groups: dict[tuple[Script, int], list[_Call]] = {}
        for call in calls:
            groups.setdefault((call.script, self._slot(call.keys[0])), []).append(call)
        return [
            group[start:start + _BATCH]
            for group in groups.values() for start in range(0, len(group), _BATCH)
        ]

    def _slot(self, key: str) -> int:
        return 0

    def command(self, group: list[_Call], name: str = "EVALSHA") -> list[Any]:
        script = group[0].script
        keys = [key for call in group for key in call.keys]
        args = [arg for call in group for arg in call.args]
        body = script.source if name == "EVAL" else script.sha
        return [name, body, len(keys), *keys, *self._heads.get(script, []), *args]

    async def close(self) -> None:
        pass


class ConnectionExecutor(_Executor):
    """One connection of its own (see :mod:`.redis_socket`), all groups of a batch in one write.

    A connection that was open and is found lost (a restarted server) is opened again once;
    a server that flushed its scripts gets them as ``EVAL``.
    """

    def __init__(
        self, client: Any, heads: dict[Script, list[Any]], error: Any, connection: Any,
        busy_poll: BusyPoll,
    ) -> None:
        super().__init__(client, heads, error)
        self._connection = connection
        self._busy_poll = busy_poll

    async def run(self, groups: list[list[_Call]]) -> list[Any]:
        """Each group's replies, or the exception that group got."""
        fresh = not self._connection.is_connected
        try:
            try:
                replies = await self._round_trip([self.command(group) for group in groups])
            except RedisConnectionError:
                if fresh:
                    raise
                replies = await self._round_trip([self.command(group) for group in groups])
            for index, reply in enumerate(replies):
                if isinstance(reply, NoScriptError):  # a restarted or flushed server
                    [replies[index]] = await self._round_trip([self.command(groups[index], "EVAL")])
        except DRIVER_ERRORS as exc:
            raise self._error(exc) from exc
        return [self._error(reply) if isinstance(reply, RedisError) else reply for reply in replies]

    async def _round_trip(self, commands: list[list[Any]]) -> list[Any]:
        self._busy_poll.begin()
        try:
            return await self._connection.round_trip(
                b"".join(map(pack_command, commands)), len(commands)
            )
        finally:
            self._busy_poll.end()

    async def close(self) -> None:
        await self._connection.close()


class RedisPyConnection:
    """A connection of the client's own pool kind (TLS and the like): what a lane falls back on."""

    def __init__(self, client: Any) -> None:
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
        async with _timeout(self._timeout):
            await connection.send_packed_command(packed, False)
            replies = []
            for _ in range(count):
                try:
                    replies.append(await connection.read_response())
                except ResponseError as exc:  # this command failed; the others stand
                    replies.append(exc)
            return replies

    async def close(self) -> None:
        await self._connection.disconnect()


class ClusterExecutor(_Executor):
    """Through the cluster client, which routes each group to its slot's node."""

    def _slot(self, key: str) -> int:
        return key_slot(key.encode())

    async def run(self, groups: list[list[_Call]]) -> list[Any]:
        return list(await asyncio.gather(*(self._one(group) for group in groups)))

    async def _one(self, group: list[_Call]) -> Any:
        try:
            try:
                return await self._client.execute_command(*self.command(group))
            except NoScriptError:
                return await self._client.execute_command(*self.command(group, "EVAL"))
        except DRIVER_ERRORS as exc:
            return self._error(exc)
