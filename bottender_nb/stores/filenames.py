"""Session id -> file name: Bottender's ``<platform>:<key>.json``, and never a path."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys

SUFFIX = ".json"
WINDOWS = sys.platform == "win32"
_MAX_STEM = 255 - len(SUFFIX)  # most filesystems cap a file name at 255 bytes
_UNSAFE = re.compile(r"[^A-Za-z0-9:+\-_.@=]")
_UNSAFE_ON_WINDOWS = re.compile(r"[^A-Za-z0-9+\-_.=]")


def _quote(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=4096)
def session_filename(session_id: str, *, windows: bool = WINDOWS) -> str:
    """``console:1`` -> ``console:1.json``, as Bottender names it; anything else stays one name.

    Characters outside ``A-Z a-z 0-9 : + - _ . @ =`` (``/``, ``\\``, NUL, ``%`` itself, non-ASCII)
    are percent-encoded, so the name is one component inside the directory and ids never
    collide. Like Bottender, Windows gets ``@`` for the first ``:``. A name past the 255-byte
    limit keeps a readable prefix and ends in ``~`` + the id's SHA-256 (``~`` is never kept
    otherwise, so it cannot collide); the record's ``id`` field stays the truth.
    """
    if windows:
        head, colon, tail = session_id.partition(":")
        stem = _UNSAFE_ON_WINDOWS.sub(_quote, head) + ("@" if colon else "")
        stem += _UNSAFE_ON_WINDOWS.sub(_quote, tail)
    else:
        stem = _UNSAFE.sub(_quote, session_id)
    if len(stem) > _MAX_STEM:
        digest = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()
        stem = f"{stem[: _MAX_STEM - len(digest) - 1]}~{digest}"
    return stem + SUFFIX


def names_ending(dirname: str, suffix: str) -> list[str]:
    """The regular files in ``dirname`` whose names end in ``suffix``, sorted ([] if none)."""
    try:
        with os.scandir(dirname) as entries:
            return sorted(e.name for e in entries if e.name.endswith(suffix) and e.is_file())
    except FileNotFoundError:
        return []
