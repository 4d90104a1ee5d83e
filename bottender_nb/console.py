"""Console mode: ``bottender-nb console path/to/bot.py[:Action]``, like ``bottender dev --console``."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import runpy
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .commands import COMMANDS, handle_line
from .config import bot_options, find_config
from .errors import BottenderNbError
from .session.runner import Bot
from .session.sync import run_until_complete
from .tracebacks import user_frames

PROMPT = "You > "
BOT_PREFIX = "Bot > "


def load_bot(spec: str, *, cwd: str | Path = ".") -> Bot:
    """A Bot from ``path/to/file.py[:Name]``, by the rule ``--help`` states (PRECEDENCE).

    ``:Name`` naming a ``Bot`` is that bot; naming an action, that action. Without it, the
    file's one module-level ``Bot`` is used as it is (its action, initial state and store).
    Otherwise the file's ``App``, else its only top-level async function, with the initial
    state and store of a ``config`` the file defines, else of a ``bottender.config.*`` in
    ``cwd``, else an empty state in memory.
    """
    path_text, name = _split_spec(spec)
    path = Path(path_text)
    if not path.is_file() or path.suffix != ".py":
        raise BottenderNbError(
            f"No bot file at {path_text!r}; give a Python file: path/to/bot.py[:ActionName]."
        )
    namespace = _run_bot_file(path)
    if name is not None and isinstance(namespace.get(name), Bot):
        return namespace[name]  # type: ignore[no-any-return]
    if name is None and (bot := _module_bot(namespace, path)) is not None:
        return bot
    action = _pick_action(namespace, name, path)
    config = namespace.get("config")
    if config is None:
        config = find_config(cwd)
    return Bot(action, **bot_options(config)) if config is not None else Bot(action)


def _module_bot(namespace: dict[str, Any], path: Path) -> Bot | None:
    """The file's one module-level ``Bot``; None if it has none; an error if several."""
    bots = {id(value): key for key, value in namespace.items()
            if isinstance(value, Bot) and not key.startswith("_")}
    if len(bots) > 1:
        names = ", ".join(sorted(bots.values()))
        raise BottenderNbError(f"{path} defines {len(bots)} Bots ({names}); name the one to "
                               f"chat with: {path}:{sorted(bots.values())[0]}.")
    return namespace[next(iter(bots.values()))] if bots else None


def _run_bot_file(path: Path) -> dict[str, Any]:
    """The bot file's names; its syntax error or import-time error as one line naming file:line."""
    try:
        return runpy.run_path(str(path), run_name="__bottender_bot__")
    except SyntaxError as exc:
        where = f"{exc.filename or path}:{exc.lineno}"
        code = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
        raise BottenderNbError(f"{where}: SyntaxError: {exc.msg}{code}") from None
    except Exception as exc:
        frame = _blamed_frame(exc, path)
        where = f"{frame.filename}:{frame.lineno}" if frame is not None else str(path)
        raise BottenderNbError(
            f"{where}: loading the bot raised {type(exc).__name__}: {exc}"
        ) from None


def _blamed_frame(error: BaseException, path: Path) -> traceback.FrameSummary | None:
    """The innermost frame in the bot file, else the innermost outside this package."""
    frames = traceback.extract_tb(user_frames(error.__traceback__))
    in_bot = [frame for frame in frames if Path(frame.filename) == path]
    return (in_bot or frames or [None])[-1]


def _split_spec(spec: str) -> tuple[str, str | None]:
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isidentifier() and head:
        return head, tail
    return spec, None


def _pick_action(namespace: dict[str, Any], name: str | None, path: Path) -> Callable[..., Any]:
    if name is not None:
        if not callable(namespace.get(name)):
            raise BottenderNbError(f"{path} defines no action or Bot named {name!r}; name one "
                                   f"it defines: {path}:App.")
        return namespace[name]
    if callable(namespace.get("App")):
        return namespace["App"]
    actions = [
        value for key, value in namespace.items()
        if inspect.iscoroutinefunction(value) and not key.startswith("_")
        and getattr(value, "__module__", None) == "__bottender_bot__"
    ]
    if len(actions) != 1:
        found = ", ".join(getattr(a, "__name__", "?") for a in actions) or "none"
        raise BottenderNbError(
            f"{path} has no `App` and {len(actions)} top-level async functions ({found}); "
            f"name the action: {path}:ActionName."
        )
    return actions[0]


def run_console(bot: Bot, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Read lines until ``/exit``, ``/quit`` or end of input; print the bot's replies.

    Ctrl-C ends the console as quietly as ``/exit`` (status 130), also while an action runs:
    the event in progress is cancelled, so its session lock is let go.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    loop = asyncio.new_event_loop()
    print(f"Type a message, or one of: {', '.join(COMMANDS)}", file=stdout, flush=True)
    try:
        return _chat(bot, loop, stdin, stdout)
    except KeyboardInterrupt:
        stdout.write("\n")
        _cancel_pending(loop)
        return 130
    finally:
        loop.run_until_complete(bot.session_store.close())
        loop.close()


def _chat(bot: Bot, loop: asyncio.AbstractEventLoop, stdin: TextIO, stdout: TextIO) -> int:
    while True:
        stdout.write(PROMPT)
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return 0
        line = line.rstrip("\r\n")
        if not stdin.isatty():
            stdout.write(line + "\n")  # piped input: echo it so the transcript reads naturally
        if not line.strip():
            continue
        try:
            outcome = run_until_complete(loop, handle_line(bot, line))
        except Exception as exc:  # the action's error is shown; the console goes on
            print(_describe_error(exc), file=stdout, flush=True)
            continue
        if outcome.exit:
            return 0
        for reply in outcome.replies:
            print(f"{BOT_PREFIX}{reply}", file=stdout, flush=True)


def _describe_error(error: Exception) -> str:
    """``Error: ValueError: ...`` and where in the user's code it was raised (their frames
    only); this package's own errors are one line."""
    headline = f"Error: {type(error).__name__}: {error}"
    trimmed = user_frames(error.__traceback__)
    if trimmed is error.__traceback__:  # no frame of the user's: nothing to point at
        return headline
    return headline + "\n" + "".join(traceback.format_tb(trimmed)).rstrip("\n")


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the event Ctrl-C interrupted and wait for it to let go of its session."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


PRECEDENCE = (
    "Which bot: BOT's :Name, when given, picks a Bot or an action of the file by name. "
    "Without it, a module-level Bot the file defines (bot = Bot(App, initial_state=..., "
    "session_store=...)) is used as it is: its action, initial state and store; there must be "
    "exactly one. Without a Bot, the file's App (else its only top-level async function) "
    "runs with the initial state and store of a config dict the file defines, else of a "
    "bottender.config.* in the working directory, else an empty state in memory."
)
DESCRIPTION = (
    "Console mode: chat with a bot in this terminal, like Bottender's "
    "'bottender dev --console'. "
    "BOT is path/to/bot.py[:Name]. " + PRECEDENCE
)


def main(argv: list[str] | None = None) -> int:
    """The ``bottender-nb`` command line."""
    parser = argparse.ArgumentParser(prog="bottender-nb", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    console = commands.add_parser("console", help="chat with a bot in this terminal",
                                  description=DESCRIPTION)
    console.add_argument("bot", help="path/to/bot.py[:Name]; without :Name, the file's "
                         "module-level Bot, else its App (else its only top-level async "
                         "function) with its config")
    args = parser.parse_args(argv)
    try:
        bot = load_bot(args.bot)
    except BottenderNbError as exc:
        parser.exit(2, f"bottender-nb: {exc}\n")
    except KeyboardInterrupt:
        return 130
    return run_console(bot)
