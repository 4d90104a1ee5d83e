"""Bottender's session mechanism for Python and Jupyter.

``from bottender_nb import Bot``; ``%load_ext bottender_nb`` in a notebook. Names that need
an optional or heavy dependency (stores' clients, widgets, pandas) are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    BodyError,
    BottenderNbError,
    CellError,
    ConfigError,
    CorruptSessionError,
    HistoryError,
    PlatformError,
    SessionIdError,
    StateError,
    StoreError,
)

__version__ = "0.1.0"

_LAZY = {
    "Bot": ".session.runner",
    "Turn": ".turns",
    "Context": ".session.context",
    "Reply": ".session.context",
    "Session": ".session.context",
    "Event": ".platforms.base",
    "SessionStore": ".stores.base",
    "MemorySessionStore": ".stores.memory",
    "FileSessionStore": ".stores.file",
    "RedisSessionStore": ".stores.redis",
    "MongoSessionStore": ".stores.mongo",
    "ChatPane": ".pane.chat_pane",
    "sessions_frame": ".analysis.frames",
    "turns_frame": ".analysis.turns",
    "transcripts_frame": ".analysis.transcripts",
    "plot_sessions": ".analysis.plots",
    "funnel": ".analysis.funnels",
    "retention": ".analysis.retention",
    "transitions": ".analysis.transitions",
    "drop_off": ".analysis.drop_offs",
    "export_turns": ".analysis.exports",
    "export_sessions": ".analysis.exports",
    "plot_funnel": ".analysis.turn_plots",
    "plot_retention": ".analysis.turn_plots",
    "plot_transitions": ".analysis.turn_plots",
    "AnalyticsError": ".errors",
    "write_test": ".testing",
    "replay": ".testing",
}

__all__ = sorted(
    [
        *_LAZY,
        "BodyError", "BottenderNbError", "CellError", "ConfigError", "CorruptSessionError",
        "HistoryError", "PlatformError", "SessionIdError",
        "StateError", "StoreError", "load_ipython_extension", "__version__",
    ]
)

if TYPE_CHECKING:
    from .analysis.retention import retention
    from .analysis.drop_offs import drop_off
    from .analysis.exports import export_sessions, export_turns
    from .analysis.transitions import transitions
    from .analysis.frames import sessions_frame
    from .analysis.funnels import funnel
    from .analysis.transcripts import transcripts_frame
    from .analysis.turns import turns_frame
    from .analysis.plots import plot_sessions
    from .analysis.turn_plots import plot_funnel, plot_retention, plot_transitions
    from .errors import AnalyticsError
    from .pane.chat_pane import ChatPane
    from .platforms.base import Event
    from .session.context import Context, Reply, Session
    from .session.runner import Bot
    from .testing.replay import replay  # the function, not its module of the same name
    from .testing.write import write_test
    from .turns import Turn
    from .stores.base import SessionStore
    from .stores.file import FileSessionStore
    from .stores.memory import MemorySessionStore
    from .stores.mongo import MongoSessionStore
    from .stores.redis import RedisSessionStore


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext bottender_nb``: register the notebook magics."""
    from .magics.extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext bottender_nb``."""
    from .magics.extension import unload_ipython_extension as unload

    unload(ipython)
