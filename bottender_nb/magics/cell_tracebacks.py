"""The user's cell in IPython's tracebacks: an action's error shown from the action's cell."""

from __future__ import annotations

import sys
from typing import Any

from ..tracebacks import user_frames


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
