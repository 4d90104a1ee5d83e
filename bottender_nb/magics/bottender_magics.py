"""BottenderMagics: ``%%bottender_config``, ``%%action``, ``%say``, ``%state``, ``%chat``,
``%sessions``. Each parses its arguments, calls the notebook's bot, and displays the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..commands import as_json
from ..pane.speakers import check_source
from ..platforms import PLATFORM_NAMES, Source
from ..testing import refresh_action_modules
from .arguments import split_text_and_options, unquote
from .cell_tracebacks import running_cell_number
from .cells import define_action, parse_config
from .notebook_bot import NotebookBot, load_sessions, transcript_lines
from .usage_errors import HELP_FLAGS, UsageErrors, wants_help

NAMES = ("bottender_config", "action", "say", "state", "chat", "sessions")


def _source_arguments(magic: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say who speaks, shared by %say and %chat."""
    for decorator in reversed([
        argument("--platform", "-p", default="console", choices=PLATFORM_NAMES, metavar="PLATFORM",
                 help=f"the platform to simulate: {', '.join(PLATFORM_NAMES)} (default: console)"),
        argument("--user", "-u", default="1", help="the simulated user's id (default: 1)"),
        argument("--group", "-g", default=None, help="a group (or Slack channel) to write in"),
        argument("--room", "-r", default=None, help="a LINE room to write in"),
    ]):
        magic = decorator(magic)
    return magic


@magics_class
class BottenderMagics(Magics):
    """Define a bot's action in a cell, talk to it, and watch its session state."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.kit = NotebookBot()

    @magic_arguments()
    @cell_magic
    def bottender_config(self, line: str, cell: str) -> None:
        """Configure the notebook's bot as Bottender does: initialState and session store.

        The cell holds JSON or a Python dict literal, e.g.
        {"initialState": {"count": 0}, "session": {"driver": "file", "expiresIn": 30,
        "stores": {"file": {"dirname": ".sessions"}}}}
        """
        if wants_help(self.bottender_config, line):
            return
        parse_argstring(self.bottender_config, line)
        with UsageErrors(self.shell):
            print(self.kit.configure(parse_config(cell)))

    @magic_arguments()
    @argument("name", nargs="?", default=None,
              help="the action's name in the notebook (default: App)")
    @cell_magic
    def action(self, line: str, cell: str) -> None:
        """Make the cell the bot's action; open chat panes use it from their next message.

        The cell is the body of `async def App(context, props=None)`: use `context.state`,
        `context.set_state(...)`, `await context.send_text(...)`. A cell that itself defines
        `async def App(context): ...` works too. The cell defines App (or NAME) in the
        notebook, and `bot`, the notebook's Bot (for turns_frame(bot), write_test(...)), unless
        `bot` already names something else of yours.
        """
        if wants_help(self.action, line):
            return
        args = parse_argstring(self.action, line)
        source = self.shell.transform_cell(cell)
        filename = self.shell.compile.cache(source, running_cell_number(self.shell))
        with UsageErrors(self.shell):
            function = define_action(source, args.name, self.shell.user_ns, filename=filename)
            self.kit.set_action(function)
        self._share_bot()
        for module in refresh_action_modules(function):
            print(f"Updated {os.path.relpath(module)}: the tests recorded from "
                  f"{function.__name__} check this version now.")

    def _share_bot(self) -> None:
        """``bot`` in the notebook is the notebook's Bot, unless the user's own ``bot`` is there."""
        namespace = self.shell.user_ns
        if namespace.get("bot", self.kit.bot) is self.kit.bot:
            namespace["bot"] = self.kit.bot

    @magic_arguments()
    @argument("text", nargs="*", help="the message (or a slash command such as /state)")
    @argument("--payload", default=None, help="send a payload event instead of text")
    @_source_arguments
    @line_magic
    def say(self, line: str) -> None:
        """Send one message to the bot; prints `You > TEXT` and each `Bot > reply`."""
        valued = {"--platform", "-p", "--user", "-u", "--group", "-g", "--room", "-r", "--payload"}
        text, argv = split_text_and_options(line, valued=valued, flags=HELP_FLAGS)
        if set(argv) & set(HELP_FLAGS):
            print(self.say.parser.format_help())
            return
        args = self.say.parser.parse_args(argv)
        if args.payload is None and not text:
            raise UsageError("Nothing to say: %say TEXT, or %say --payload X.")
        if args.payload is not None and text:
            raise UsageError(f"Give TEXT or --payload, not both: %say {text}, or "
                             f"%say --payload {args.payload}.")
        said = f"/payload {args.payload}" if args.payload is not None else text
        with UsageErrors(self.shell):
            self.kit.require_bot()
            check_source(args.platform, user=args.user, group=args.group, room=args.room)
        you, *_ = transcript_lines(said, [])
        print(you, flush=True)  # before the action runs, so its own print()s come after
        with UsageErrors(self.shell):
            replies = self.kit.say(said, platform=args.platform, source=_source(args))
        for reply_line in transcript_lines(said, replies)[1:]:
            print(reply_line)

    @magic_arguments()
    @argument("session_id", nargs="?", default=None,
              help="e.g. console:1 or line:U123 (default: the last session talked to)")
    @line_magic
    def state(self, line: str) -> None:
        """Print a session's state as indented JSON, like /state."""
        if wants_help(self.state, line):
            return
        args = parse_argstring(self.state, line)
        with UsageErrors(self.shell):
            state = self.kit.state(unquote(args.session_id))
        # which session, apart from the JSON (which stays /state's, for copy and json.loads)
        named = self.kit.session_or_last(unquote(args.session_id))
        why = "" if args.session_id else " (the last session talked to)"
        display({"text/plain": f"State of {named}{why}:"}, raw=True)
        print(as_json(state))

    @magic_arguments()
    @_source_arguments
    @line_magic
    def chat(self, line: str) -> None:
        """Show a chat pane: bubbles, a text box, the session id and its live state."""
        if wants_help(self.chat, line):
            return
        args = parse_argstring(self.chat, line)
        with UsageErrors(self.shell):
            pane = self.kit.open_chat(platform=args.platform, source=_source(args))
        display(pane)

    @magic_arguments()
    @argument("dirname", nargs="?", default=None,
              help="a directory of session files (default: the notebook bot's store)")
    @argument("--driver", choices=("file", "redis", "mongo"), default=None,
              help="read another store, configured by the options below")
    @argument("--url", default=None, help="redis or mongo URL")
    @argument("--host", default=None, help="redis host")
    @argument("--port", type=int, default=None, help="redis port")
    @argument("--db", type=int, default=None, help="redis database number")
    @argument("--password", default=None, help="redis password")
    @argument("--collection", default=None, help="mongo collection (default: sessions)")
    @line_magic
    def sessions(self, line: str) -> Any:
        """The stored sessions as a DataFrame, one row per session: `df = %sessions .sessions`."""
        if wants_help(self.sessions, line):
            return None
        args = parse_argstring(self.sessions, line)
        with UsageErrors(self.shell):
            return load_sessions(self.kit, unquote(args.dirname), args.driver,
                                 _store_options(args))


def _source(args: Any) -> Source:
    return Source(user=args.user, group=args.group, room=args.room)


def _store_options(args: Any) -> dict[str, Any]:
    """Bottender's option names for the store ``--driver`` names."""
    if args.driver == "file":
        return {"dirname": unquote(args.dirname) or ".sessions"}
    names = {"url": "url", "host": "host", "port": "port", "db": "db", "password": "password",
             "collection": "collectionName"}
    options = {names[name]: getattr(args, name) for name in names}
    return {name: value for name, value in options.items() if value is not None}
