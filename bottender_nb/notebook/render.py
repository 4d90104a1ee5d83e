"""HTML for the chat pane: chat bubbles and the pane's style sheet.

Every piece of text that reaches the page goes through :func:`html.escape` here, so a message
or a state value is never HTML: ``<script>`` and ``<img onerror>`` show as the characters typed.
"""

from __future__ import annotations

import html
import json
import zlib
from typing import Any

# Bubble kinds: who speaks, and how the bubble looks.
YOU, BOT, ERROR, NOTE = "you", "bot", "error", "note"

# Distinct hues for simulated users, so a group chat shows who said what at a glance.
_USER_HUES = (210, 140, 30, 280, 0, 175, 330, 60)

STYLE = """
<style>
.bnb-pane { font-family: var(--jp-ui-font-family, sans-serif); }
.bnb-transcript { border: 1px solid var(--jp-border-color2, #ddd); padding: 4px; }
.bnb-row { display: flex; margin: 2px 0; }
.bnb-row.bnb-you { justify-content: flex-end; }
.bnb-bubble { max-width: 75%; padding: 4px 10px; border-radius: 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; line-height: 1.35; }
.bnb-bot .bnb-bubble { background: var(--jp-layout-color2, #eee); }
.bnb-error .bnb-bubble { background: #fde2e1; color: #8a1c13; border: 1px solid #f2a29c; }
.bnb-note .bnb-bubble { background: transparent; color: var(--jp-ui-font-color2, #666);
  font-style: italic; }
.bnb-speaker { display: block; font-size: 75%; opacity: 0.75; }
.bnb-pre { font-family: var(--jp-code-font-family, monospace); }
.bnb-session { font-family: var(--jp-code-font-family, monospace); }
.bnb-state-key { font-family: var(--jp-code-font-family, monospace); padding: 1px 6px;
  border-left: 3px solid transparent; }
.bnb-state-key.bnb-changed { border-left-color: #e8a100; background: #fff4d6; color: #222; }
.bnb-state-key.bnb-changed::after { content: "changed"; font-size: 70%; margin-left: 8px;
  padding: 0 4px; border-radius: 4px; background: #e8a100; color: white; }
</style>
"""


def user_hue(user: str) -> int:
    """A stable colour for a simulated user (the same user keeps its colour across runs)."""
    return _USER_HUES[zlib.crc32(user.encode("utf-8")) % len(_USER_HUES)]


def bubble(
    kind: str, text: str, *, speaker: str = "", user: str = "", preformatted: bool = False
) -> str:
    """One chat bubble; ``text`` and ``speaker`` are escaped, never interpreted as HTML."""
    style = ""
    if kind == YOU:
        style = f' style="background: hsl({user_hue(user)}, 70%, 88%); color: #111;"'
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
