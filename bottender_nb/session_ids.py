"""A session id, ``platform:key`` as Bottender files sessions: made and split here only.

Below the platforms (which make ids from webhook bodies), the stores (which name files and keys
after them) and everything above, so each can use the one rule without importing the others.
"""

from __future__ import annotations


def join_session_id(platform: str, key: str | None) -> str | None:
    """``"line:U123"`` for ``("line", "U123")``; None when there is no key (a sessionless event)."""
    return None if key is None else f"{platform}:{key}"


def split_session_id(session_id: str) -> tuple[str, str]:
    """``("line", "U123")`` for ``"line:U123"``: the platform, and the key (which may hold
    colons of its own, e.g. a Slack thread); ``(session_id, "")`` for an id without a platform."""
    platform, _, key = session_id.partition(":")
    return platform, key
