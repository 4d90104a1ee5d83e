"""The chat pane: chat with a bot in a notebook and watch its session state change.

Modules, from the pane down to its parts:

- ``chat_pane``: :class:`ChatPane`, the widget ``%chat`` shows, and its code twins
  (``send``, ``switch``, ``transcript``).
- ``transcript_view``: the chat's bubbles, appended in blocks so a long chat never re-renders.
- ``state_view``: the live state panel, one small widget per key, changed keys marked.
- ``timeline_view``: the session's turns; pick one to see its state, rewind to it, fork from it.
  ``turn_list`` holds its rows, ``turn_rows`` how a turn reads in one row (``%turns`` too).
- ``source_picker``: who the pane speaks as (user, group, room); ``speakers`` checks a source
  and finds who spoke or who talks to a session (``%say`` and ``%fork`` use it too).
- ``enter_box``: a text box whose Enter carries exactly what was typed.
- ``saved_view``: the saved copy of a chat, for pages without a kernel.
- ``markup``: the pane's HTML, every text escaped; ``styles``: its style sheet and inline styles.
- ``kernel_loop``: a widget callback's work, on the kernel's loop without blocking it.

The pane uses the core package (the Bot, its platforms and stores) and is used by
:mod:`bottender_nb.magics`; nothing in the core imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chat_pane import ChatPane

__all__ = ["ChatPane"]


def __getattr__(name: str) -> Any:
    if name == "ChatPane":  # on use: importing a part (speakers) must not import ipywidgets
        from .chat_pane import ChatPane

        return ChatPane
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
