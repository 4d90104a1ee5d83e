"""Transcripts: every message a bot handles, kept next to its sessions as JSON lines.

One line per message: ``{"time": <epoch s>, "session_id", "platform", "direction": "in" |
"out", "text", "state": <state after the turn>}``. The file is ``transcripts.jsonl``: not
``.json``, so session loaders (ours and Bottender's) never mistake it for a session.
"""

from __future__ import annotations

import json
import os
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .sources import is_file_store

if TYPE_CHECKING:
    import pandas as pd

    from ..session.runner import Bot, Turn
    from ..stores.base import SessionStore

TRANSCRIPT_FILENAME = "transcripts.jsonl"
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)


class TranscriptRecorder:
    """Records every turn of the bots it is attached to, in a JSON-lines file or in memory.

    With a ``path``, each turn is appended with one ``write`` on a file opened ``O_APPEND``:
    on a local filesystem the turn's lines land whole and in order even when several
    processes record into one file (network filesystems such as NFS promise less). A crash
    can at most leave a torn last line, which readers report and skip.
    """

    _by_store: ClassVar[weakref.WeakKeyDictionary[Any, TranscriptRecorder]] = (
        weakref.WeakKeyDictionary()
    )  # a cache, so for_store(store).attach(bot) on every %say attaches once

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lines: list[str] = []
        self._bots: weakref.WeakSet[Any] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path) if self.path else 'in memory'!r})"

    @classmethod
    def for_store(cls, store: SessionStore) -> TranscriptRecorder:
        """The recorder that keeps turns "next to" ``store``'s sessions; one per store.

        A ``FileSessionStore`` gets ``<dirname>/transcripts.jsonl``. Any other store keeps
        turns in this process's memory: a transcript written into Bottender's redis database
        or mongo collection would sit among the session keys/documents, where Bottender's store
        and ``all()`` would read it as a (corrupt) session. To keep a redis or mongo bot's
        transcripts, pass a file: ``TranscriptRecorder("transcripts.jsonl").attach(bot)``.
        """
        try:
            return cls._by_store[store]
        except (KeyError, TypeError):
            pass
        dirname = getattr(store, "dirname", None)
        recorder = cls(Path(dirname) / TRANSCRIPT_FILENAME if is_file_store(store) else None)
        try:
            cls._by_store[store] = recorder
        except TypeError:  # a store without weak-reference support: no caching
            pass
        return recorder

    def attach(self, bot: Bot) -> TranscriptRecorder:
        """Record every turn ``bot`` handles from now on; attaching twice records once."""
        if bot not in self._bots:
            bot.on_turn(self.record)
            self._bots.add(bot)
        return self

    def record(self, turn: Turn) -> None:
        """Keep one turn: its incoming message and each reply, with the state after it."""
        lines = "".join(_line(entry) for entry in turn_entries(turn))
        if self.path is None:
            self._lines.append(lines)
            return
        try:
            _append(self.path, lines)
        except OSError as exc:  # the bot's turn is done and saved: losing its log is not fatal
            warnings.warn(f"A turn was not recorded in {self.path}: {exc}", stacklevel=2)

    def read(self) -> tuple[list[dict[str, Any]], list[tuple[str, str]], str]:
        """The recorded messages, the lines that could not be read, and where they live."""
        if self.path is None:
            return _parse("".join(self._lines).splitlines(), "memory"), [], "memory"
        if not self.path.exists():
            return [], [], str(self.path)
        turns, errors = read_transcript(self.path)
        return turns, errors, str(self.path)

    @property
    def turns(self) -> list[dict[str, Any]]:
        """Every recorded message as a dict, oldest first."""
        return self.read()[0]

    def frame(self) -> pd.DataFrame:
        """The transcript as a DataFrame (see :func:`~bottender_nb.analysis.frames.transcripts_frame`)."""
        from .frames import transcripts_frame

        return transcripts_frame(self)


def turn_entries(turn: Turn) -> Iterator[dict[str, Any]]:
    """The messages of one turn: the incoming one (text, else payload), then each reply."""
    common = {"time": turn.time, "session_id": turn.session_id, "platform": turn.platform}
    state = turn.state
    text = turn.text if turn.text is not None else turn.payload
    yield {**common, "direction": "in", "text": text, "state": state}
    for reply in turn.replies:
        yield {**common, "direction": "out", "text": reply, "state": state}


def read_transcript(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The messages of a JSON-lines transcript, and ``(path:line, why)`` for each bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No transcript at {os.fspath(path)!r}; record one with "
            "TranscriptRecorder.for_store(store).attach(bot)."
        ) from None
    errors: list[tuple[str, str]] = []
    return _parse(text.splitlines(), os.fspath(path), errors), errors


def _parse(lines: list[str], where: str, errors: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    turns = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            entry = exc
        if isinstance(entry, dict) and "direction" in entry:
            turns.append(entry)
        elif errors is not None:
            why = f"is not valid JSON ({entry})" if isinstance(entry, Exception) else "is not a turn"
            errors.append((f"{where}:{number}", why))
    return turns


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"


def _append(path: Path, lines: str) -> None:
    data = lines.encode("utf-8", "backslashreplace")
    try:
        fd = os.open(path, _APPEND, 0o666)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, _APPEND, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)

