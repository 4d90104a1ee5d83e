"""Servers for the store tests: real ``redis-server`` processes (one, or a 3-master Redis Cluster,
on loopback), and mongomock behind pymongo's async API, since no MongoDB server can be had here.

Each server runs in its own temporary directory on a free port and is stopped afterwards (and,
on Linux, dies with the test process even if that is killed). A missing ``redis-server`` fails
the run with the command that installs it: these tests never skip.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

INSTALL_HINT = "install it with: apt-get install -y redis-server redis-tools"


def executable(name: str) -> str:
    """The path of a Redis program, or fail the test run saying how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH; the Redis tests need a real server -- {INSTALL_HINT}")
    return path


def free_port(*, with_bus: bool = False) -> int:
    """A loopback TCP port nobody listens on (and, for a cluster node, its port + 10000 too)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not with_bus:
            return port
        if port + 10000 < 65536 and _bindable(port + 10000):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RedisServer:
    """One ``redis-server`` on ``127.0.0.1:port`` in ``dirname``; ``with`` starts and stops it."""

    def __init__(self, dirname: Path, *, port: int | None = None, persistent: bool = False,
                 cluster: bool = False, password: str | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.dirname = Path(dirname)
        self.dirname.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(with_bus=cluster)
        self.persistent = persistent
        self.cluster = cluster
        self.password = password  # requirepass; command() logs in with it
        self.extra_args = extra_args  # more redis-server options, e.g. ("--unixsocket", path)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def args(self) -> list[str]:
        args = [
            executable("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.dirname), "--save", "", "--daemonize", "no",
            "--logfile", str(self.dirname / "redis.log"),
        ]
        if self.persistent:  # every acknowledged write is on disk before the reply
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "5000"]
        if self.password is not None:
            args += ["--requirepass", self.password]
        return args + list(self.extra_args)

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            self.args(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start: {self.log()}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); with persistence on, it syncs first."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to save anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.stop()

    def ping(self) -> bool:
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False

    def command(self, *words: str) -> str:
        """Send one command; its reply as text (what the fixtures and tests need)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as connection:
            if self.password is not None:
                connection.sendall(_encode(("AUTH", self.password)))
                _read_reply(connection)
            connection.sendall(_encode(words))
            return _read_reply(connection)

    def log(self) -> str:
        path = self.dirname / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RedisClusterServers:
    """Three ``redis-server`` masters joined by ``redis-cli --cluster create``; no replicas."""

    def __init__(self, dirname: Path, masters: int = 3) -> None:
        self.nodes = [RedisServer(Path(dirname) / f"node{i}", cluster=True) for i in range(masters)]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def port(self) -> int:
        return self.nodes[0].port

    def start(self) -> RedisClusterServers:
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(
                [executable("redis-cli"), "--cluster", "create", *addresses,
                 "--cluster-replicas", "0", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )
            self._wait_until_ok()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ok(self) -> None:
        deadline = time.monotonic() + 30
        while not all("cluster_state:ok" in node.command("CLUSTER", "INFO") for node in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok in 30 s")
            time.sleep(0.05)

    def flush(self) -> None:
        for node in self.nodes:
            node.command("FLUSHALL")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _encode(words: tuple[str, ...]) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _read_reply(connection: socket.socket) -> str:
    data = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("redis-server closed the connection")
        data += chunk
        with contextlib.suppress(ValueError):
            return _parse(data)


def _parse(data: bytes) -> str:
    """The text of one simple, error, integer or bulk reply; ValueError when incomplete."""
    line, sep, rest = data.partition(b"\r\n")
    if not sep:
        raise ValueError("incomplete")
    kind, body = line[:1], line[1:].decode()
    if kind in (b"+", b":"):
        return body
    if kind == b"-":
        return "ERR:" + body
    if kind == b"$":
        size = int(body)
        if size < 0:
            return ""
        if len(rest) < size + 2:
            raise ValueError("incomplete")
        return rest[:size].decode()
    raise RuntimeError(f"unexpected reply {data[:80]!r}")



class AsyncMongomockCollection:
    """A mongomock collection behind pymongo's async collection API (no MongoDB server here).

    mongomock is synchronous; every method becomes a coroutine, and ``find`` returns a cursor
    with pymongo's ``await cursor.to_list(length)``.
    """

    def __init__(self, collection: Any) -> None:
        self.sync = collection

    def find(self, *args: Any, **kwargs: Any) -> _AsyncMongomockCursor:
        return _AsyncMongomockCursor(self.sync.find(*args, **kwargs))

    @property
    def name(self) -> str:
        return self.sync.name

    @property
    def database(self) -> _AsyncMongomockDatabase:
        """Like pymongo's: ``collection.database[name]`` is a sibling collection."""
        return _AsyncMongomockDatabase(self.sync.database)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


class _AsyncMongomockDatabase:
    def __init__(self, database: Any) -> None:
        self.sync = database

    def __getitem__(self, name: str) -> AsyncMongomockCollection:
        return AsyncMongomockCollection(self.sync[name])


class _AsyncMongomockCursor:
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    async def to_list(self, length: int | None = None) -> list[Any]:
        return list(self.cursor if length is None else itertools.islice(self.cursor, length))
