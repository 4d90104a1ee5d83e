"""``%record_test`` and ``%replay``: a chat in the notebook becomes a pytest file, and replays
against the action as it is now."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..errors import HistoryError
from .arguments import unquote
from .notebook_bot import NotebookBot
from .usage_errors import UsageErrors, wants_help


@magics_class
class TestingMagics(Magics):
    """Record the notebook bot's chats as pytest files, and replay them against it."""

    def __init__(self, shell: Any, kit: NotebookBot) -> None:
        super().__init__(shell)
        self.kit = kit

    @magic_arguments()
    @argument("path", help="the test file to write (test_*.py), or a directory for it")
    @argument("session_id", nargs="?", default=None,
              help="the session to record (default: the last session talked to)")
    @line_magic
    def record_test(self, line: str) -> None:
        """Write a pytest file that replays a session's turns and checks replies and state."""
        from ..testing import write_test

        if wants_help(self.record_test, line):
            return
        args = parse_argstring(self.record_test, line)
        args.path, args.session_id = unquote(args.path), unquote(args.session_id)
        with UsageErrors(self.shell):
            kit = self.kit
            session_id = kit.session_or_last(args.session_id)
            path = write_test(args.path, kit.require_bot(), session_id)
            count = len(kit.require_bot().history(session_id))
        chosen = "" if args.session_id else (
            " (the last session talked to, as %state and %replay take it; name another: "
            f"%record_test {args.path} SESSION_ID)")
        print(f"Recorded {session_id}{chosen}.")
        print(f"Wrote {path} ({count} turns of {session_id}) and "
              f"{path.with_name(path.stem + '.turns.json').name} beside it; run: pytest {path}")

    @magic_arguments()
    @argument("session_id", nargs="?", default=None,
              help="the session to replay (default: the last session talked to)")
    @line_magic
    def replay(self, line: str) -> Any:
        """Replay a session's turns against the current action; the differences, styled."""
        from ..testing import replay

        if wants_help(self.replay, line):
            return None
        args = parse_argstring(self.replay, line)
        with UsageErrors(self.shell):
            kit = self.kit
            bot = kit.require_bot()
            session_id = kit.session_or_last(unquote(args.session_id))
            turns = bot.history(session_id)
            if not turns:
                raise HistoryError(
                    f"{session_id!r} has no kept turns to replay; chat with it first "
                    "(%say, %chat) or name another session: %replay SESSION_ID."
                )
            frame = replay(turns, bot)
        if frame.empty:
            print(f"All {len(turns)} turns of {session_id} replay as recorded.")
            return None
        display(styled(frame))
        return None


def styled(frame: Any) -> Any:
    """The differences with expected and actual side by side, the actual values marked."""
    return (
        frame.style.hide(axis="index")
        .set_properties(subset=["expected"], **{"background-color": "#e6ffed"})
        .set_properties(subset=["actual"], **{"background-color": "#ffeef0", "font-weight": "bold"})
        .set_caption("Turns that replay differently now (expected: recorded; actual: now)")
    )


NAMES = ("record_test", "replay")
