"""``--record`` / ``record_transcript=True``: a bot's turns kept next to its sessions."""

from __future__ import annotations

from typing import Any

from ..session.runner import Bot


def attach_recorder(bot: Bot) -> Any:
    """The bot's transcript: a view of the turns its store keeps (the analysis kit loads only
    when asked). Nothing to record apart: every turn is in the store's history already."""
    from ..analysis.transcripts import Transcript

    return Transcript(bot)
