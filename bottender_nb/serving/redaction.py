"""Telegram's bot token travels in the path of every API call (``/bot<token>/getUpdates``),
and httpx logs each request's URL at INFO: this filter masks the token in those lines, so a
notebook that turns logging on (``logging.basicConfig(level="INFO")``) never prints it."""

from __future__ import annotations

import logging
import re

# Telegram's tokens are "<bot id>:<secret>"; the bot id may be shown, the secret never.
_TOKEN_IN_PATH = re.compile(r"/bot(\d+):[A-Za-z0-9_-]+")


def mask_telegram_tokens(text: str) -> str:
    return _TOKEN_IN_PATH.sub(r"/bot\1:…", text)


class HideTelegramTokens(logging.Filter):
    """Rewrites a log record's message and arguments with every Telegram token masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_telegram_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_telegram_tokens(str(arg)) if "/bot" in str(arg) else arg
                for arg in record.args
            )
        return True


def hide_telegram_tokens(logger_name: str = "httpx") -> None:
    """Install the filter on ``logger_name`` (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, HideTelegramTokens) for f in logger.filters):
        logger.addFilter(HideTelegramTokens())
