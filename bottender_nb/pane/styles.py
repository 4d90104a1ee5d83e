"""Every style of the chat pane: the live pane's style sheet, and the saved copy's inline styles.

The saved copy styles itself inline because the style sheet comes with the live pane's widgets,
which a saved notebook's page (nbconvert, GitHub, nbviewer) does not have. The colours both use
are defined once here, so the copy looks like the pane.
"""

from __future__ import annotations

import zlib

# Bubble kinds: who speaks, and how the bubble looks.
YOU, BOT, ERROR, NOTE = "you", "bot", "error", "note"

# Distinct hues for simulated users, so a group chat shows who said what at a glance.
_USER_HUES = (210, 140, 30, 280, 0, 175, 330, 60)
ERROR_COLOURS = "background: #fde2e1; color: #8a1c13; border: 1px solid #f2a29c;"
CHANGED_COLOURS = "border-left-color: #e8a100; background: #fff4d6;"
CHANGED_BADGE = ("font-size: 70%; padding: 0 4px; border-radius: 4px; background: #e8a100; "
                 "color: white;")
MONOSPACE = "font-family: monospace;"

STYLE = f"""
<style>
.bnb-pane {{ font-family: var(--jp-ui-font-family, sans-serif); }}
.bnb-transcript {{ border: 1px solid var(--jp-border-color2, #ddd); padding: 4px; }}
.bnb-row {{ display: flex; margin: 2px 0; }}
.bnb-row.bnb-you {{ justify-content: flex-end; }}
.bnb-bubble {{ max-width: 75%; padding: 4px 10px; border-radius: 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; line-height: 1.35; }}
.bnb-bot .bnb-bubble {{ background: var(--jp-layout-color2, #eee); }}
.bnb-error .bnb-bubble {{ {ERROR_COLOURS} }}
.bnb-note .bnb-bubble {{ background: transparent; color: var(--jp-ui-font-color2, #666);
  font-style: italic; }}
.bnb-speaker {{ display: block; font-size: 75%; opacity: 0.75; }}
.bnb-pre {{ font-family: var(--jp-code-font-family, monospace); }}
.bnb-session {{ font-family: var(--jp-code-font-family, monospace); }}
.bnb-state-key {{ font-family: var(--jp-code-font-family, monospace); padding: 1px 6px;
  border-left: 3px solid transparent; }}
.bnb-state-key.bnb-changed {{ {CHANGED_COLOURS} color: #222; }}
.bnb-state-key.bnb-changed::after {{ content: "changed"; margin-left: 8px; {CHANGED_BADGE} }}
.bnb-timeline-list {{ border: 1px solid var(--jp-border-color2, #ddd); }}
.bnb-timeline-list .widget-select {{ margin: 0; width: 100%; }}
.bnb-timeline-list select {{ border: none; overflow: hidden; padding: 0;
  font-family: var(--jp-code-font-family, monospace); font-size: 90%; }}
.bnb-turn-detail {{ font-size: 90%; }}
/* The saved copy of a chat is for pages without the live pane: while the live pane is
   rendered in the output just above it (JupyterLab, Notebook 7), hide the copy. */
.jp-OutputArea-child:has(.bnb-pane) + .jp-OutputArea-child:has(.bnb-saved) {{ display: none; }}
</style>
"""
"""The live pane's style sheet, shown once at the top of the pane."""

SAVED_BUBBLES = {
    YOU: "background: hsl({hue}, 70%, 88%); color: #111;",
    BOT: "background: #eee; color: #111;",
    ERROR: ERROR_COLOURS,
    NOTE: "color: #666; font-style: italic;",
}
SAVED_BUBBLE = ("display: inline-block; text-align: left; max-width: 75%; padding: 4px 10px; "
                "border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; ")


def user_hue(user: str) -> int:
    """A stable colour for a simulated user (the same user keeps its colour across runs)."""
    return _USER_HUES[zlib.crc32(user.encode("utf-8")) % len(_USER_HUES)]


def user_colours(user: str) -> str:
    """The inline style of ``user``'s bubbles, in the live pane and the saved copy."""
    return SAVED_BUBBLES[YOU].format(hue=user_hue(user))
