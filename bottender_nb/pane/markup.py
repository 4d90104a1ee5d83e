"""HTML for the chat pane: chat bubbles, state rows, and the saved copy of a chat.

Every piece of text that reaches the page goes through :func:`html.escape` here, so a message
or a state value is never HTML: ``<script>`` and ``<img onerror>`` show as the characters typed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Collection, Mapping
from typing import Any

from .styles import (
    CHANGED_BADGE,
    CHANGED_COLOURS,
    MONOSPACE,
    SAVED_BUBBLE,
    SAVED_BUBBLES,
    YOU,
    user_colours,
    user_hue,
)


def bubble(
    kind: str, text: str, *, speaker: str = "", user: str = "", preformatted: bool = False
) -> str:
    """One chat bubble; ``text`` and ``speaker`` are escaped, never interpreted as HTML."""
    style = ""
    if kind == YOU:
        style = f' style="{user_colours(user)}"'
    label = f'<span class="bnb-speaker">{html.escape(speaker)}</span>' if speaker else ""
    body = html.escape(text)
    if preformatted:
        body = f'<span class="bnb-pre">{body}</span>'
    return (
        f'<div class="bnb-row bnb-{kind}"><div class="bnb-bubble"{style}>{label}{body}</div></div>'
    )


def state_value(value: Any) -> str:
    """A state value as compact JSON (what Bottender stores), escaped."""
    return html.escape(json.dumps(value, ensure_ascii=False, default=repr))


def state_entry(key: str, value: Any) -> str:
    """One line of the state panel: ``key: value``."""
    return f"<b>{html.escape(key)}</b>: {state_value(value)}"


def session_label(session_id: str | None) -> str:
    """The pane's 'which session am I talking to' line."""
    shown = "(no session)" if session_id is None else session_id
    return f'Session: <span class="bnb-session">{html.escape(shown)}</span>'


def saved_bubble(
    kind: str, text: str, *, speaker: str, user: str = "", preformatted: bool = False
) -> str:
    """One bubble of the saved copy, styled inline; the speaker is named even unstyled."""
    style = SAVED_BUBBLE + SAVED_BUBBLES[kind].format(hue=user_hue(user))
    if preformatted:
        style += MONOSPACE
    align = "right" if kind == YOU else "left"
    return (
        f'<div style="text-align: {align}; margin: 2px 0;"><div style="{style}">'
        f'<b style="font-size: 75%; opacity: 0.75;">{html.escape(speaker)}</b><br>'
        f"{html.escape(text)}</div></div>"
    )


def saved_pane(
    bubbles: list[str], state: Mapping[str, Any], changed: Collection[str], session_id: str | None,
    timeline: Collection[str] = (),
) -> str:
    """The saved copy of a chat: its bubbles (from :func:`saved_bubble`), its state panel and
    its timeline (the turns' labels, oldest first).

    Plain HTML with inline styles: no script, no style sheet, nothing fetched. A long chat
    scrolls in a box that opens on its newest messages (a reversed column, no JavaScript).
    """
    chat = "".join(bubbles) or "<i>(no messages yet)</i>"
    rows = "".join(_saved_state_row(key, value, key in changed) for key, value in state.items())
    return (
        '<div class="bnb-saved" style="font-family: sans-serif; font-size: 13px; '
        'line-height: 1.35; color: #111;">'
        f'<div style="margin-bottom: 4px;">{session_label(session_id)} '
        '<span style="color: #666;">(saved copy of the chat pane)</span></div>'
        '<div style="display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start;">'
        '<div style="flex: 2 1 20em; display: flex; flex-direction: column-reverse; '
        'max-height: 420px; overflow: auto; border: 1px solid #ddd; padding: 4px;">'
        f"<div>{chat}</div></div>"
        '<div style="flex: 1 1 12em;"><b>Session state</b>'
        f'{rows or "<div><i>(empty state)</i></div>"}</div>'
        f"{_saved_timeline(timeline)}"
        "</div></div>"
    )


def _saved_timeline(labels: Collection[str]) -> str:
    if not labels:
        return ""
    rows = "".join(f'<div style="{MONOSPACE} padding: 1px 6px;">{html.escape(label)}</div>'
                   for label in labels)
    return ('<div style="flex: 1 1 12em;"><b>Timeline</b><div style="max-height: 420px; '
            f'overflow: auto; display: flex; flex-direction: column-reverse;"><div>{rows}</div>'
            "</div></div>")


def _saved_state_row(key: str, value: Any, changed: bool) -> str:
    style = f"{MONOSPACE} padding: 1px 6px; border-left: 3px solid transparent;"
    mark = ""
    if changed:
        style += f" {CHANGED_COLOURS}"
        mark = f' <span style="{CHANGED_BADGE}">changed</span>'
    return f'<div style="{style}">{state_entry(key, value)}{mark}</div>'
