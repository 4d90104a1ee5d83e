"""Tracebacks that show the user's action, not the machinery that ran it.

Shared by console mode and the notebook magics (:mod:`bottender_nb.magics.cell_tracebacks`):
an error in an action is shown from the action's own frames.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import types
from pathlib import Path

# Frames from these places are how an action gets run, never where its bug is.
_MACHINERY = tuple(
    str(Path(path).resolve()) + os.sep
    for path in (Path(__file__).resolve().parent, Path(asyncio.__file__).parent,
                 Path(concurrent.futures.__file__).parent)
)
_MACHINERY_FILES = ("nest_asyncio.py", "nest_asyncio2.py", os.sep + Path(threading.__file__).name)


def _is_machinery(filename: str) -> bool:
    if filename.endswith(_MACHINERY_FILES):
        return True
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return resolved.startswith(_MACHINERY)


def user_frames(traceback: types.TracebackType | None) -> types.TracebackType | None:
    """``traceback`` without bottender_nb's, asyncio's and nest-asyncio's frames.

    When every frame is machinery (a bug of ours, not the user's), the traceback is kept whole.
    """
    kept = []
    frame = traceback
    while frame is not None:
        if not _is_machinery(frame.tb_frame.f_code.co_filename):
            kept.append(frame)
        frame = frame.tb_next
    if not kept:
        return traceback
    trimmed = None
    for frame in reversed(kept):
        trimmed = types.TracebackType(trimmed, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return trimmed
