"""The time-travel magics: ``%turns`` lists a session's kept turns, ``%rewind`` and ``%fork``
step back to one or branch from one, as ``bot.rewind`` and ``bot.fork`` do.

Not ``%history``: that stays IPython's input history. Each magic parses its line, calls the
bot's ``history`` / ``rewind`` / ``fork``, and shows the result; a misuse is one line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..errors import HistoryError
from ..pane.speakers import source_for
from ..pane.turn_rows import turns_table
from ..platforms import Source, split_session_id
from ..turns import Turn
from .arguments import unquote
from .notebook_bot import NotebookBot
from .usage_errors import UsageErrors, wants_help

if TYPE_CHECKING:
    import pandas

NAMES = ("turns", "rewind", "fork")
SESSION_HELP = "e.g. console:1 or line:U123 (default: the last session talked to)"


@magics_class
class HistoryMagics(Magics):
    """List a session's turns, step back to one, or fork a new session from one."""

    def __init__(self, shell: Any, kit: NotebookBot) -> None:
        super().__init__(shell)
        self.kit = kit

    @magic_arguments()
    @argument("session_id", nargs="?", default=None, help=SESSION_HELP)
    @line_magic
    def turns(self, line: str) -> pandas.DataFrame | None:
        """A session's kept turns as a table to read: turn, time, kind, you, bot, changed keys.

        For analytics (funnel, retention...) use turns_frame(bot): one row per turn of every
        session, with the state after it (after %%action, `bot` is the notebook's bot).
        """
        if wants_help(self.turns, line):
            return None
        args = parse_argstring(self.turns, line)
        with UsageErrors(self.shell):
            return turns_table(kept_turns(self.kit, args.session_id))

    @magic_arguments()
    @argument("turn", help="the turn whose state becomes the session's state again (see %%turns)")
    @argument("session_id", nargs="?", default=None, help=SESSION_HELP)
    @line_magic
    def rewind(self, line: str) -> None:
        """Step a session back: the state after TURN becomes its state; nothing is deleted."""
        if wants_help(self.rewind, line):
            return
        args = parse_argstring(self.rewind, line)
        with UsageErrors(self.shell):
            print(rewind(self.kit, args.turn, args.session_id))

    @magic_arguments()
    @argument("turn", help="the turn to branch from (see %%turns)")
    @argument("session_id", nargs="?", default=None, help=SESSION_HELP)
    @argument("--to", default=None,
              help="the new session's id, e.g. console:plan-b (default: SESSION_ID-fork1, ...)")
    @line_magic
    def fork(self, line: str) -> None:
        """A new session with SESSION_ID's state and history up to TURN; prints its id."""
        if wants_help(self.fork, line):
            return
        args = parse_argstring(self.fork, line)
        with UsageErrors(self.shell):
            print(fork(self.kit, args.turn, args.session_id, to=args.to))


# -- the plain functions behind them ---------------------------------------------------------


def kept_turns(kit: NotebookBot, session_id: str | None) -> list[Turn]:
    """The session's kept turns (default: the last session talked to); an error if none."""
    bot = kit.require_bot()
    session_id = _session(kit, session_id)
    turns = bot.history(session_id)
    if not turns:
        if not bot.keep_history:
            raise HistoryError("This bot keeps no turns (Bot(..., history=0)); "
                               "give it history=1000 to keep them.")
        raise HistoryError(f"{session_id!r} has no kept turns; talk to it first "
                           f"(%say Hi), or name another session (%sessions lists them).")
    return turns


def rewind(kit: NotebookBot, turn: str, session_id: str | None) -> str:
    """Rewind; one line saying to what, and the state the session now has."""
    bot = kit.require_bot()
    session_id = _session(kit, session_id)
    number = _turn_number(turn)
    made = bot.rewind(session_id, number)
    state = json.dumps(made.state, ensure_ascii=False, default=repr)
    return f"Rewound {session_id} to turn {number} (kept as turn {made.index}); state: {state}"


def fork(kit: NotebookBot, turn: str, session_id: str | None, *, to: str | None) -> str:
    """Fork; one line naming the new session and how to talk to it."""
    bot = kit.require_bot()
    session_id = _session(kit, session_id)
    number = _turn_number(turn)
    new_id = bot.fork(session_id, number, to=unquote(to))
    platform, _ = split_session_id(new_id)
    talk = source_for(platform, new_id, Source())
    hint = "" if talk is None else f"; talk to it with %say TEXT {_options(platform, talk)}"
    return f"Forked {session_id} at turn {number} into {new_id}{hint}"


def _session(kit: NotebookBot, session_id: str | None) -> str:
    return kit.session_or_last(unquote(session_id))


def _turn_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise HistoryError(
            f"TURN must be a turn number such as 2 (the turn column of %turns), not {text!r}."
        ) from None


def _options(platform: str, source: Source) -> str:
    """``%say``'s options that speak as ``source``."""
    options = [] if platform == "console" else [f"--platform {platform}"]
    options.append(f"--user {source.user}")
    if source.group is not None:
        options.append(f"--group {source.group}")
    if source.room is not None:
        options.append(f"--room {source.room}")
    return " ".join(options)

