"""The Redis protocol (RESP2) as the store sends it: commands packed here, parts reused.

Why by hand: a session sends the same keys and lock token with every script call it makes,
so :class:`Arguments` encodes them once, and packing a call only joins bytes.
"""

from __future__ import annotations

import functools
from typing import Any


def pack_command(command: list[Any]) -> bytes:
    """A command in the Redis protocol; its arguments are str, bytes (values) or int."""
    return b"*%d\r\n" % len(command) + b"".join(
        bulk(argument) if type(argument) is bytes else bulk_of(argument) for argument in command
    )


def bulk(data: bytes) -> bytes:
    """One bulk string."""
    return b"$%d\r\n%s\r\n" % (len(data), data)


@functools.lru_cache(maxsize=64)
def bulk_of(argument: str | int) -> bytes:
    """A bulk string of a command name, a script, a number: the few that every call repeats."""
    return bulk(str(argument).encode())


class Arguments:
    """Strings sent with every call of a session (its keys, its token), encoded once."""

    __slots__ = ("values", "resp")

    def __init__(self, *values: str | int) -> None:
        self.values = values
        self.resp = b"".join(bulk(str(value).encode()) for value in values)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Arguments{self.values!r}"
