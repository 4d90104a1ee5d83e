"""A lean connection for the store's pipeline lanes: a bare asyncio protocol and hiredis.

Why not redis-py's ``Connection``: every event of a session costs a round trip, and one
through redis-py's stream reader costs ~49 us of CPU against ~35 us through an
``asyncio.Protocol`` that feeds a ``hiredis.Reader`` (loopback PING, shared 2-core VM). This
speaks only what a lane needs: RESP2 commands the caller packed, replies in order. A request
whose caller was cancelled still takes its replies, so the connection stays in step. Where
it connects, and when it cannot be used, is :mod:`.redis_address`'s business.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import missing_extra
from .redis_address import Address
from .redis_resp import pack_command

try:
    import hiredis
    from redis.exceptions import AuthenticationError, BusyLoadingError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import InvalidResponse, NoScriptError, RedisError, ResponseError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

_timeout: Any = getattr(asyncio, "timeout", None)
if _timeout is None:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _timeout

_REPLY_ERRORS = {  # error replies redis-py raises as these, by their first word
    "NOSCRIPT": NoScriptError, "LOADING": BusyLoadingError, "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
}


class RespConnection:
    """A lane's connection: opened on first use, and again once it was lost."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self._protocol: _Protocol | None = None

    @property
    def is_connected(self) -> bool:
        return self._protocol is not None and self._protocol.open

    def round_trip(self, packed: bytes, count: int) -> Awaitable[list[Any]]:
        """Send ``count`` packed commands; their replies, an error reply as its exception."""
        protocol = self._protocol
        if protocol is not None and protocol.open:
            return protocol.request(packed, count)  # a future: no coroutine on the hot path
        return self._connect_and_send(packed, count)

    async def _connect_and_send(self, packed: bytes, count: int) -> list[Any]:
        protocol = await self._connect()
        return await protocol.request(packed, count)

    async def close(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _connect(self) -> _Protocol:
        address, loop = self.address, asyncio.get_running_loop()

        def factory() -> _Protocol:
            return _Protocol(address.where, address.timeout)

        try:
            async with _timeout(address.connect_timeout):
                if address.path is not None:
                    _, protocol = await loop.create_unix_connection(factory, address.path)
                else:
                    _, protocol = await loop.create_connection(factory, address.host, address.port)
        except (OSError, asyncio.TimeoutError) as exc:
            reason = str(exc) or "timed out"
            raise RedisConnectionError(f"Error connecting to {address.where}: {reason}") from exc
        try:
            if address.keepalive and address.path is None:
                protocol.keep_alive(address.keepalive_options)
            await self._handshake(protocol)
        except BaseException:
            protocol.close()
            raise
        self._protocol = protocol
        return protocol

    async def _handshake(self, protocol: _Protocol) -> None:
        """Log in and select the database, in one round trip."""
        address, commands = self.address, []
        if address.username or address.password:
            user = [address.username] if address.username else []
            commands.append(["AUTH", *user, address.password or ""])
        if address.db:
            commands.append(["SELECT", address.db])
        if address.client_name:
            commands.append(["CLIENT", "SETNAME", address.client_name])
        if not commands:
            return
        replies = await protocol.request(b"".join(map(pack_command, commands)), len(commands))
        for command, reply in zip(commands, replies):
            if isinstance(reply, RedisError):
                if command[0] == "AUTH":
                    raise AuthenticationError(str(reply)) from None
                raise RedisConnectionError(f"{command[0]} {command[1]} failed: {reply}") from None


@dataclass(slots=True)
class _Request:
    count: int
    future: asyncio.Future[list[Any]]
    deadline: float
    replies: list[Any] = field(default_factory=list)


class _Protocol(asyncio.Protocol):
    """One transport: requests out, replies in, matched in order; fails them all when lost.

    ``socket_timeout`` is watched by one timer per connection, re-armed for the oldest
    request's deadline when it fires -- not one timer per round trip.
    """

    def __init__(self, where: str, timeout: float | None) -> None:
        self._where = where
        self._timeout = timeout
        self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=ResponseError)
        self._pending: deque[_Request] = deque()
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._lost: RedisError | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    @property
    def open(self) -> bool:
        transport = self._transport
        return self._lost is None and transport is not None and not transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def keep_alive(self, options: Mapping[int, int | bytes]) -> None:
        sock = self._transport.get_extra_info("socket") if self._transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in options.items():
                sock.setsockopt(socket.IPPROTO_TCP, option, value)

    def request(self, packed: bytes, count: int) -> asyncio.Future[list[Any]]:
        if not self.open:
            raise _copy(self._lost or RedisConnectionError(f"Not connected to {self._where}"))
        future = self._loop.create_future()
        deadline = 0.0
        if self._timeout:
            deadline = self._loop.time() + self._timeout
            if self._watchdog is None:
                self._watchdog = self._loop.call_at(deadline, self._check_deadline)
        self._pending.append(_Request(count, future, deadline))
        self._transport.write(packed)  # type: ignore[union-attr]
        return future

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        try:
            reply = reader.gets()
            while reply is not False:
                self._take(reply)
                reply = reader.gets()
        except InvalidResponse as exc:
            self._abort(exc)

    def _take(self, reply: Any) -> None:
        if not self._pending:
            raise InvalidResponse(f"Redis at {self._where} sent a reply nobody asked for")
        if isinstance(reply, ResponseError):
            kind = _REPLY_ERRORS.get(str(reply).split(" ", 1)[0])
            reply = reply if kind is None else kind(str(reply))
        request = self._pending[0]
        request.replies.append(reply)
        if len(request.replies) == request.count:
            self._pending.popleft()
            if not request.future.done():  # its caller may have been cancelled
                request.future.set_result(request.replies)

    def _check_deadline(self) -> None:
        self._watchdog = None
        if not self._pending:
            return
        deadline = self._pending[0].deadline
        if self._loop.time() < deadline:
            self._watchdog = self._loop.call_at(deadline, self._check_deadline)
            return
        self._abort(RedisTimeoutError(
            f"Redis at {self._where} did not answer within socket_timeout={self._timeout}s"
        ))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else " (closed by the server)"
        self._fail(RedisConnectionError(f"Connection to Redis at {self._where} lost{reason}"))

    def close(self) -> None:
        self._abort(RedisConnectionError(f"Connection to Redis at {self._where} closed"))

    def _abort(self, exc: RedisError) -> None:
        self._fail(exc)
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, exc: RedisError) -> None:
        if self._lost is None:
            self._lost = exc
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self._pending:
            future = self._pending.popleft().future
            if not future.done():
                future.set_exception(_copy(exc))


def _copy(exc: RedisError) -> RedisError:
    """An exception of its own for each caller, so their tracebacks do not pile up."""
    return type(exc)(*exc.args)
