"""``--record`` / ``record_transcript=True``: a bot's turns kept next to its sessions."""

from __future__ import annotations

from typing import Any

from ..session.runner import Bot


def attach_recorder(bot: Bot) -> Any:
    """Record the bot's turns next to its sessions (the analysis kit loads only when asked)."""
    from ..analysis.transcripts import TranscriptRecorder

    return TranscriptRecorder.for_store(bot.session_store).attach(bot)
