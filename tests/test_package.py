"""The public surface: every documented name importable from the top level; no optional imports."""

from __future__ import annotations

import subprocess
import sys

import bottender_nb

# The names the README and the notebooks teach users to import from ``bottender_nb``.
PUBLIC_NAMES = [
    "Bot", "MemorySessionStore", "FileSessionStore", "RedisSessionStore", "MongoSessionStore",
    "ChatPane", "sessions_frame", "turns_frame", "transcripts_frame", "plot_sessions", "SessionStore",
    "StateError", "StoreError", "load_ipython_extension",
]


def test_every_public_name_is_importable_from_the_top_level():
    for name in [*PUBLIC_NAMES, *bottender_nb.__all__]:
        assert getattr(bottender_nb, name) is not None, name


def test_importing_the_package_imports_no_optional_client_or_widget():
    code = (
        "import sys, bottender_nb; from bottender_nb import Bot, MemorySessionStore, FileSessionStore;"
        "print(sorted(m for m in ('redis', 'pymongo', 'ipywidgets', 'pandas', 'matplotlib')"
        " if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_package_is_typed():
    from importlib.resources import files

    assert files("bottender_nb").joinpath("py.typed").is_file()
