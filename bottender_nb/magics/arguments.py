"""Split a magic's line into free text and options, keeping the text exactly as typed.

``%say I'm  "here" --user 2`` must say ``I'm  "here"``: a shell-style split would eat the
quotes and the spacing, so only the options are tokenised (and then parsed by argparse).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import overload

_TOKEN = re.compile(r"\S+")
_VALUE = re.compile(r"""\s+("[^"]*"|'[^']*'|\S+)""")
_OPTION_LIKE = re.compile(r"--[A-Za-z]")


def split_text_and_options(
    line: str, *, valued: Collection[str], flags: Collection[str]
) -> tuple[str, list[str]]:
    """``(text, argv)``: the line's free text, and its options as argv for argparse.

    ``valued`` options take the next token (quoted with ' or " when it holds spaces) or
    ``--opt=value``; a token that looks like an unknown option goes to argv, so argparse
    reports it.
    """
    argv: list[str] = []
    pieces: list[str] = []
    position = 0
    for match in _TOKEN.finditer(line):
        if match.start() < position:  # inside an option's value
            continue
        token = match.group()
        name = token.split("=", 1)[0]
        if token in valued:
            value = _VALUE.match(line, match.end())
            end = value.end() if value else match.end()
            argv += [token, unquote(value.group(1))] if value else [token]
        elif name in valued or token in flags or _OPTION_LIKE.match(token):
            end = match.end()
            argv.append(token)
        else:
            continue
        pieces.append(line[position:match.start()])
        position = end
    pieces.append(line[position:])
    text = " ".join(piece.strip() for piece in pieces if piece.strip())
    return text, argv


@overload
def unquote(text: str) -> str: ...


@overload
def unquote(text: None) -> None: ...


def unquote(text: str | None) -> str | None:
    """``text`` without one pair of matching quotes around it: ``'a b'`` -> ``a b``.

    argparse keeps the quotes a user types around an argument (``%state 'console:1'``); the
    magics take the quoted value as the value.
    """
    if text and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
