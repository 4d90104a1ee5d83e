"""Whether a lane can use the lean connection of :mod:`.redis_socket`, and where it connects.

The lean connection opens what redis-py would, read from the client's
``connection_pool.connection_kwargs``: TCP or a unix socket, ``AUTH`` (username, password),
``SELECT`` db, ``CLIENT SETNAME``, keepalive, ``socket_connect_timeout``, and
``socket_timeout`` per round trip. For anything else -- TLS, a credential provider, RESP3, a
connect callback, another connection class, an option this module does not know --
:func:`lean_address` returns None and the lane keeps redis-py's connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import missing_extra

try:
    from redis.asyncio.connection import Connection, UnixDomainSocketConnection
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without redis
    raise missing_extra("redis", "redis") from exc

_CLASSES = (Connection, UnixDomainSocketConnection)  # exactly these: SSLConnection is not lean
_USED = {
    "host", "port", "path", "username", "password", "db", "client_name", "socket_timeout",
    "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options",
}
# How redis-py itself decodes, retries, reports and reconnects: nothing the server sees.
_IRRELEVANT = {
    "socket_read_size", "encoding", "encoding_errors", "decode_responses", "retry",
    "retry_on_error", "retry_on_timeout", "health_check_interval", "driver_info", "lib_name",
    "lib_version", "parser_class", "encoder_class", "event_dispatcher", "legacy_responses",
    "himport_registry", "maint_notifications_config", "maint_notifications_pool_handler",
    "orig_host_address", "orig_socket_timeout", "orig_socket_connect_timeout",
}
_DEFAULTS: dict[str, tuple[Any, ...]] = {"protocol": (None, 2, "2"), "socket_type": (0,)}


@dataclass(frozen=True, slots=True)
class Address:
    """Where and how to connect: a host and port, or a unix socket ``path``."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    username: str | None = None
    password: str | None = None
    db: int = 0
    client_name: str | None = None
    connect_timeout: float | None = None
    timeout: float | None = None  # per round trip
    keepalive: bool = False
    keepalive_options: Mapping[int, int | bytes] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return self.path or f"{self.host}:{self.port}"


def lean_address(client: Any) -> Address | None:
    """Where ``client``'s pool connects, when a lean connection can connect alike; else None."""
    pool = getattr(client, "connection_pool", None)
    if pool is None or pool.connection_class not in _CLASSES:
        return None
    options = dict(pool.connection_kwargs)
    for name, value in options.items():
        if name in _DEFAULTS:
            if value not in _DEFAULTS[name]:
                return None
        elif name not in _USED and name not in _IRRELEVANT and value not in (None, False):
            return None  # a credential provider, a connect callback, or something new
    keepalive_options = options.get("socket_keepalive_options")
    return Address(
        host=options.get("host", "localhost"), port=int(options.get("port", 6379)),
        path=options.get("path") if pool.connection_class is UnixDomainSocketConnection else None,
        username=options.get("username"), password=options.get("password"),
        db=int(options.get("db") or 0), client_name=options.get("client_name"),
        connect_timeout=options.get("socket_connect_timeout"),
        timeout=options.get("socket_timeout"), keepalive=bool(options.get("socket_keepalive")),
        keepalive_options=keepalive_options if isinstance(keepalive_options, Mapping) else {},
    )
