"""A lean connection for the store's pipeline lanes: a bare non-blocking socket and hiredis.

Why: every event of a session waits for one round trip, so its cost is the store's speed.
Measured on a shared 2-core VM (loopback PING, round trips/s): an ``asyncio.Protocol`` ~5k,
~7-9k while the loop is kept polling -- asyncio's transport reads with a 256 KiB buffer
per ``recv`` and hands each reply over through one more loop pass; this connection, whose
waiting task itself tries ``recv`` between yields to the loop, ~17k.

**Busy polling**: while a reply is due, the waiting task tries ``recv`` and, finding nothing,
yields with ``asyncio.sleep(0)``; other tasks keep running between its tries, and the loop
polls its selector with timeout 0 instead of sleeping, because waking a sleeping process
costs more on a VM than a local Redis takes to answer. After ``busy_poll`` seconds it waits
as usual (``loop.sock_recv``: asleep until the socket is readable). It costs CPU only while
this process would otherwise sleep, only while a reply is due, and no task of its own.

Its caller reads its own replies, so a round trip that fails -- lost, timed out past
``socket_timeout``, or its caller cancelled -- leaves the connection out of step: it is
closed, and the next round trip opens a new one. Where it connects, and whether it can be
used at all, is :mod:`.redis_address`'s business.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from ..errors import missing_extra
from .redis_address import Address
from .redis_resp import pack_command

try:
    import hiredis
except ImportError as exc:  # pragma: no cover - redis-py installed without its hiredis extra
    raise missing_extra("hiredis", "redis") from exc
try:
    from redis.exceptions import AuthenticationError, BusyLoadingError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import InvalidResponse, NoScriptError, RedisError, ResponseError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

_timeout: Any = getattr(asyncio, "timeout", None)
if _timeout is None:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _timeout

_READ = 65536  # below malloc's mmap threshold: a fresh buffer per recv stays cheap
_REPLY_ERRORS = {  # error replies redis-py raises as these, by their first word
    "NOSCRIPT": NoScriptError, "LOADING": BusyLoadingError, "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
}


class RespConnection:
    """A lane's connection: opened on first use, and again after a failed round trip.

    :param busy_poll: seconds a round trip keeps polling for its reply before it sleeps.
    """

    def __init__(self, address: Address, busy_poll: float) -> None:
        self.address = address
        self.busy_poll = busy_poll
        self._sock: socket.socket | None = None
        self._reader: Any = None

    @property
    def is_connected(self) -> bool:
        return self._sock is not None

    async def round_trip(self, packed: bytes, count: int) -> list[Any]:
        """Send ``count`` packed commands; their replies, an error reply as its exception."""
        if self._sock is None:
            await self._connect()
        try:
            return await self._exchange(packed, count)
        except BaseException:
            self._drop()  # out of step with the server: a new connection next time
            raise

    async def close(self) -> None:
        self._drop()

    async def _exchange(self, packed: bytes, count: int) -> list[Any]:
        sock, reader, loop = self._sock, self._reader, asyncio.get_running_loop()
        assert sock is not None
        try:
            sent = sock.send(packed)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise self._lost(exc) from exc
        if sent < len(packed):  # a big batch, or a server that stopped reading
            await self._send_rest(sock, loop, memoryview(packed)[sent:])
        now = loop.time()
        poll_until = now + self.busy_poll
        deadline = now + self.address.timeout if self.address.timeout else None
        replies: list[Any] = []
        while True:
            reply = reader.gets()
            while reply is not False:
                replies.append(_reply(reply))
                if len(replies) == count:
                    return replies
                reply = reader.gets()
            reader.feed(await self._receive(sock, loop, poll_until, deadline))

    async def _send_rest(
        self, sock: socket.socket, loop: asyncio.AbstractEventLoop, rest: memoryview
    ) -> None:
        try:
            async with _timeout(self.address.timeout):
                await loop.sock_sendall(sock, rest)
        except asyncio.TimeoutError as exc:
            raise self._timed_out() from exc
        except OSError as exc:
            raise self._lost(exc) from exc

    async def _receive(
        self, sock: socket.socket, loop: asyncio.AbstractEventLoop, poll_until: float,
        deadline: float | None,
    ) -> bytes:
        """The next bytes from Redis: polled for until ``poll_until``, then waited for."""
        try:
            while True:
                try:
                    data = sock.recv(_READ)
                    break
                except BlockingIOError:
                    now = loop.time()
                    if deadline is not None and now >= deadline:
                        raise self._timed_out() from None
                    if now < poll_until:
                        await asyncio.sleep(0)  # other tasks run; the loop polls, not sleeps
                        continue
                    async with _timeout(None if deadline is None else deadline - now):
                        data = await loop.sock_recv(sock, _READ)
                    break
        except asyncio.TimeoutError as exc:  # the one from _timeout, not a socket's
            raise self._timed_out() from exc
        except OSError as exc:
            raise self._lost(exc) from exc
        if not data:
            raise self._lost(None)
        return data

    async def _connect(self) -> None:
        address, loop = self.address, asyncio.get_running_loop()
        try:
            async with _timeout(address.connect_timeout):
                sock = await _open(loop, address)
        except (OSError, asyncio.TimeoutError) as exc:
            reason = str(exc) or "timed out"
            raise RedisConnectionError(f"Error connecting to {address.where}: {reason}") from exc
        self._sock, self._reader = sock, hiredis.Reader(
            protocolError=InvalidResponse, replyError=ResponseError
        )
        try:
            await self._handshake()
        except BaseException:
            self._drop()
            raise

    async def _handshake(self) -> None:
        """Log in, select the database and name the client, in one round trip."""
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
        replies = await self._exchange(b"".join(map(pack_command, commands)), len(commands))
        for command, reply in zip(commands, replies):
            if isinstance(reply, RedisError):
                if command[0] == "AUTH":
                    raise AuthenticationError(str(reply))
                raise RedisConnectionError(f"{command[0]} {command[1]} failed: {reply}")

    def _drop(self) -> None:
        sock, self._sock, self._reader = self._sock, None, None
        if sock is not None:
            sock.close()

    def _lost(self, exc: BaseException | None) -> RedisConnectionError:
        reason = f": {exc}" if exc else " (closed by the server)"
        return RedisConnectionError(f"Connection to Redis at {self.address.where} lost{reason}")

    def _timed_out(self) -> RedisTimeoutError:
        return RedisTimeoutError(
            f"Redis at {self.address.where} did not answer within "
            f"socket_timeout={self.address.timeout}s"
        )


async def _open(loop: asyncio.AbstractEventLoop, address: Address) -> socket.socket:
    """A connected non-blocking socket: the unix socket, else the first address that answers."""
    if address.path is not None:
        targets: list[Any] = [(socket.AF_UNIX, address.path)]
    else:
        infos = await loop.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
        targets = [(family, target) for family, _, _, _, target in infos]
    error: OSError = OSError(f"no address found for {address.where}")
    for family, target in targets:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, target)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if address.keepalive:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                for option, value in address.keepalive_options.items():
                    sock.setsockopt(socket.IPPROTO_TCP, option, value)
        return sock
    raise error


def _reply(reply: Any) -> Any:
    """A reply as redis-py would give it: an error reply as the exception class it names."""
    if isinstance(reply, ResponseError):
        kind = _REPLY_ERRORS.get(str(reply).split(" ", 1)[0])
        if kind is not None:
            return kind(str(reply))
    return reply
