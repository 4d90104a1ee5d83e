"""Real platforms' webhooks and replies, one channel per platform, built from a config's
``channels`` section (:mod:`.options` checks it)."""

from __future__ import annotations

import importlib
from typing import Any

from .base import Channel, WebhookRequest
from .options import OPTIONS, check_channels

__all__ = ["CHANNEL_NAMES", "Channel", "WebhookRequest", "make_channels"]

CHANNEL_NAMES = tuple(OPTIONS)


def make_channels(channels: Any) -> dict[str, Channel]:
    """Each enabled channel of a config's ``channels`` section, by platform name."""
    return {name: _channel_class(name)(options)
            for name, options in check_channels(channels).items()}


def _channel_class(name: str) -> type[Channel]:
    module = importlib.import_module(f".{name}", __name__)
    return getattr(module, f"{name.capitalize()}Channel")

