"""Tests from chats: write a pytest file from a recorded chat, or replay it now."""

from __future__ import annotations

from .replay import MISSING, differences, replay, replay_pairs
from .write import (
    TestWriteError, action_from_source, load_action, refresh_action_modules, write_test,
)

__all__ = [
    "MISSING", "TestWriteError", "action_from_source", "differences", "load_action",
    "refresh_action_modules", "replay", "replay_pairs", "write_test",
]
