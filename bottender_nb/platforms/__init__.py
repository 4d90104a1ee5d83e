"""The platforms bottender_nb derives session IDs for, by name."""

from __future__ import annotations

import functools
import importlib

from ..errors import PlatformError, show
from ..session_ids import split_session_id
from .base import Event, Platform, Source

__all__ = ["Event", "Platform", "Source", "PLATFORM_NAMES", "get_platform", "split_session_id"]

PLATFORM_NAMES = ("console", "messenger", "whatsapp", "line", "slack", "telegram", "viber")


def get_platform(name: str | Platform) -> Platform:
    """The :class:`Platform` for ``name`` (one of :data:`PLATFORM_NAMES`)."""
    if type(name) is not str and isinstance(name, Platform):
        return name
    if not isinstance(name, str) or name not in PLATFORM_NAMES:
        raise PlatformError(
            f"Unknown platform {name!r:.60}; use one of: {', '.join(PLATFORM_NAMES)}."
            if isinstance(name, str) else
            f"platform must be a name such as \"console\", not {show(name)}; use one of: "
            f"{', '.join(PLATFORM_NAMES)}."
        )
    return _platform_named(name)


@functools.lru_cache(maxsize=None)
def _platform_named(name: str) -> Platform:
    module = importlib.import_module(f".{name}", __name__)
    return module.PLATFORM
