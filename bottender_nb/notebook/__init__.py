"""Deprecated: the old home of the notebook kit, kept for one release.

The kit now lives in two packages that say what they are: :mod:`bottender_nb.pane` (the chat
pane) and :mod:`bottender_nb.magics` (the magics and the notebook's bot). Each module here
hands out the names it held, with a ``DeprecationWarning`` that names the new path; the table
:data:`MOVED` says where each went:

``arguments``, ``cells``, ``history_magics``, ``serve_magics``, ``testing_magics`` ->
``magics.*`` (same names); ``kit`` -> ``magics.notebook_bot``; ``magics`` ->
``magics.bottender_magics`` and ``magics.extension``; ``usage`` -> ``magics.usage_errors``;
``tracebacks`` -> ``bottender_nb.tracebacks`` and ``magics.cell_tracebacks``; ``chat`` ->
``pane.chat_pane``; ``render`` -> ``pane.markup`` and ``pane.styles``; ``session_sources`` ->
``pane.speakers``; ``enter_box``, ``saved_view``, ``source_picker``, ``state_view``,
``timeline_view``, ``transcript_view``, ``turn_list``, ``turn_rows`` -> ``pane.*``.
``recording`` (``--record``, which did nothing) is gone.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

_PANE, _MAGICS = "bottender_nb.pane", "bottender_nb.magics"
_TOP_LEVEL = {"ChatPane", "CellError", "load_ipython_extension", "unload_ipython_extension"}


def _all(module: str, names: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), module)


MOVED: dict[str, dict[str, str]] = {
    "arguments": _all(f"{_MAGICS}.arguments", "split_text_and_options"),
    "cells": {**_all(f"{_MAGICS}.cells", "DEFAULT_ACTION_NAME parse_config define_action"),
              "CellError": "bottender_nb.errors"},
    "chat": _all(f"{_PANE}.chat_pane", "ChatPane EXIT_NOTE"),
    "enter_box": _all(f"{_PANE}.enter_box", "ESM TextBox EnterBox"),
    "history_magics": _all(f"{_MAGICS}.history_magics",
                           "NAMES SESSION_HELP HistoryMagics kept_turns rewind fork"),
    "kit": _all(f"{_MAGICS}.notebook_bot", "DEFAULT_SESSION_ID NO_ACTION NotebookBot describe "
                                           "transcript_lines load_sessions"),
    "magics": {**_all(f"{_MAGICS}.extension", "load_ipython_extension unload_ipython_extension"),
               "BottenderMagics": f"{_MAGICS}.bottender_magics"},
    "render": {**_all(f"{_PANE}.styles", "YOU BOT ERROR NOTE STYLE user_hue"),
               **_all(f"{_PANE}.markup", "bubble state_value state_entry session_label "
                                         "saved_bubble saved_pane")},
    "saved_view": _all(f"{_PANE}.saved_view", "UPDATE_DELAY SavedView"),
    "serve_magics": _all(f"{_MAGICS}.serve_magics", "NAMES ServeMagics"),
    "session_sources": _all(f"{_PANE}.speakers", "source_for"),
    "source_picker": {**_all(f"{_PANE}.speakers", "SHARED_CHATS check_source"),
                      **_all(f"{_PANE}.source_picker", "PRIVATE SourcePicker")},
    "state_view": _all(f"{_PANE}.state_view", "CHANGED_CLASS StateView"),
    "testing_magics": _all(f"{_MAGICS}.testing_magics", "NAMES TestingMagics styled"),
    "timeline_view": {**_all(f"{_PANE}.timeline_view", "LIVE_TITLE HINT TimelineView"),
                      "STYLE": f"{_PANE}.styles"},
    "tracebacks": {"user_frames": "bottender_nb.tracebacks",
                   **_all(f"{_MAGICS}.cell_tracebacks",
                          "show_user_frames_only running_cell_number")},
    "transcript_view": _all(f"{_PANE}.transcript_view", "BLOCK_SIZE SECTION_SIZE TranscriptView"),
    "turn_list": _all(f"{_PANE}.turn_list", "BLOCK_SIZE SECTION_SIZE LABEL_WIDTH TurnList"),
    "turn_rows": _all(f"{_PANE}.turn_rows", "REPLY_SEPARATOR COLUMNS said replied changed "
                                            "one_line turns_table"),
    "usage": _all(f"{_MAGICS}.usage_errors", "HELP_FLAGS UsageErrors wants_help"),
}
"""Old module (under ``bottender_nb.notebook``) -> each public name it held -> its new module."""


def moved(old_module: str) -> tuple[list[str], Callable[[str], Any]]:
    """``__all__`` and the module ``__getattr__`` of an old module: each name it held, taken
    from its new module, with a DeprecationWarning that names where to import it from now."""
    table = MOVED[old_module.rpartition(".")[2]]

    def __getattr__(name: str) -> Any:
        new_module = table.get(name)
        if new_module is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        also = " (or from bottender_nb)" if name in _TOP_LEVEL else ""
        warnings.warn(
            f"{old_module}.{name} has moved: import {name} from {new_module}{also}; "
            f"{old_module} goes in the next release.", DeprecationWarning, stacklevel=2,
        )
        return getattr(importlib.import_module(new_module), name)

    return list(table), __getattr__
