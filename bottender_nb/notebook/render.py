"""HTML for the chat pane: chat bubbles, the pane's style sheet, and the saved copy of a chat.

Every piece of text that reaches the page goes through :func:`html.escape` here, so a message
or a state value is never HTML: ``<script>`` and ``<img onerror>`` show as the characters typed.
"""

from __future__ import annotations

import html
import json
import zlib
from collections.abc import Collection, Mapping
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
/* The saved copy of a chat (saved_pane) is for pages without the live pane: while the live
   pane is rendered in the output just above it (JupyterLab, Notebook 7), hide the copy. */
.jp-OutputArea-child:has(.bnb-pane) + .jp-OutputArea-child:has(.bnb-saved) { display: none; }
</style>
"""

# The saved copy styles itself inline: the style sheet above comes with the live pane's widgets,
# which a saved notebook's page (nbconvert, GitHub, nbviewer) does not have.
_SAVED_BUBBLES = {
    YOU: "background: hsl({hue}, 70%, 88%); color: #111;",
    BOT: "background: #eee; color: #111;",
    ERROR: "background: #fde2e1; color: #8a1c13; border: 1px solid #f2a29c;",
    NOTE: "color: #666; font-style: italic;",
}
_SAVED_BUBBLE = ("display: inline-block; text-align: left; max-width: 75%; padding: 4px 10px; "
                 "border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; ")
_MONOSPACE = "font-family: monospace;"


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


def saved_bubble(
    kind: str, text: str, *, speaker: str, user: str = "", preformatted: bool = False
) -> str:
    """One bubble of the saved copy, styled inline; the speaker is named even unstyled."""
    style = _SAVED_BUBBLE + _SAVED_BUBBLES[kind].format(hue=user_hue(user))
    if preformatted:
        style += _MONOSPACE
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
    rows = "".join(f'<div style="{_MONOSPACE} padding: 1px 6px;">{html.escape(label)}</div>'
                   for label in labels)
    return ('<div style="flex: 1 1 12em;"><b>Timeline</b><div style="max-height: 420px; '
            f'overflow: auto; display: flex; flex-direction: column-reverse;"><div>{rows}</div>'
            "</div></div>")


def _saved_state_row(key: str, value: Any, changed: bool) -> str:
    style = f"{_MONOSPACE} padding: 1px 6px; border-left: 3px solid transparent;"
    mark = ""
    if changed:
        style += " border-left-color: #e8a100; background: #fff4d6;"
        mark = (' <span style="font-size: 70%; padding: 0 4px; border-radius: 4px; '
                'background: #e8a100; color: white;">changed</span>')
    return f'<div style="{style}">{state_entry(key, value)}{mark}</div>'
