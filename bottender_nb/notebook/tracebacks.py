"""Tracebacks that show the user's action, not the machinery that ran it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
import types
from pathlib import Path
from typing import Any

# Frames from these places are how an action gets run, never where its bug is.
_MACHINERY = tuple(
    str(Path(path).resolve()) + os.sep
    for path in (Path(__file__).resolve().parent.parent, Path(asyncio.__file__).parent,
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


def show_user_frames_only(shell: Any, error: BaseException) -> None:
    """Make IPython show ``error`` from the user's own first frame (their action's cell, with
    its ``In[n]`` and line), not from the ``%say`` cell and the magic that ran the action.

    Raising cannot drop the frames it passes through, so this uses IPython's documented hook
    for exceptions that render their own traceback, ``_render_traceback_``, on this one error
    instance. An error with no user frame at all (a bug of ours) is left whole.
    """
    trimmed = user_frames(error.__traceback__)
    if trimmed is error.__traceback__ or not hasattr(error, "__dict__"):
        return
    formatter = shell.InteractiveTB

    def render() -> list[str]:
        return formatter.structured_traceback(type(error), error, trimmed, tb_offset=0)

    error._render_traceback_ = render  # type: ignore[attr-defined]


def running_cell_number(shell: Any) -> int:
    """The ``In[n]`` of the cell running now, as IPython files its code for tracebacks.

    ``shell.execution_count`` is no guide: IPython 9 counts it up before the cell runs (so it
    is the next cell's number), IPython 8 after. The cell's own code is on the stack (it
    called the magic), filed under the number its traceback shows; that number is used.
    """
    numbers = getattr(shell.compile, "_filename_map", {})
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename in numbers:
            return int(numbers[frame.f_code.co_filename])
        frame = frame.f_back
    return int(shell.execution_count)
