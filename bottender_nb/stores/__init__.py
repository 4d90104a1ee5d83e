"""Session stores behind one async interface; redis and mongo import their clients lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import SessionStore

if TYPE_CHECKING:
    from .file import FileSessionStore
    from .memory import MemorySessionStore
    from .mongo import MongoSessionStore
    from .redis import RedisSessionStore

__all__ = [
    "SessionStore",
    "MemorySessionStore",
    "FileSessionStore",
    "RedisSessionStore",
    "MongoSessionStore",
]

_MODULES = {
    "MemorySessionStore": ".memory",
    "FileSessionStore": ".file",
    "RedisSessionStore": ".redis",
    "MongoSessionStore": ".mongo",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        import importlib

        return getattr(importlib.import_module(_MODULES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
