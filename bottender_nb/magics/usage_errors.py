"""How every magic of the kit meets a misuse: one line, and the user's own frames first."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from IPython.core.error import UsageError

from ..errors import BottenderNbError
from .cell_tracebacks import show_user_frames_only

HELP_FLAGS = ("-h", "--help")


class UsageErrors:
    """Show this package's errors as one line (UsageError), and the user's own errors from
    their own first frame (their action's cell), not the magic's, the runner's or asyncio's."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        if isinstance(error, BottenderNbError) or _is_missing_extra(error):
            raise UsageError(str(error)) from None
        if isinstance(error, Exception):
            show_user_frames_only(self.shell, error)
        return False  # the user's error goes on as raised, so the cell fails as it should


def _is_missing_extra(error: BaseException | None) -> bool:
    """An optional client that is not installed: its message already says what to install."""
    return isinstance(error, ImportError) and "pip install" in str(error)


def wants_help(magic: Callable[..., Any], line: str) -> bool:
    """``-h`` / ``--help`` anywhere in the line: print the magic's help (and do nothing else)."""
    if not any(flag in line.split() for flag in HELP_FLAGS):
        return False
    print(magic.parser.format_help())
    return True
