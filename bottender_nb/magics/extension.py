"""What ``%load_ext bottender_nb`` registers, and what ``%unload_ext bottender_nb`` takes away.

Every Magics class shares one :class:`~.notebook_bot.NotebookBot`, so ``%say``, ``%turns``,
``%record_test`` and ``%serve`` all speak of the same bot.
"""

from __future__ import annotations

from typing import Any

from . import bottender_magics, history_magics, serve_magics, testing_magics
from .bottender_magics import BottenderMagics
from .history_magics import HistoryMagics
from .serve_magics import ServeMagics
from .testing_magics import TestingMagics

MAGICS_CLASSES = (BottenderMagics, HistoryMagics, TestingMagics, ServeMagics)
MAGIC_NAMES = (*bottender_magics.NAMES, *history_magics.NAMES, *testing_magics.NAMES,
               *serve_magics.NAMES)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext bottender_nb``."""
    magics = BottenderMagics(ipython)
    ipython.register_magics(magics, *(kind(ipython, magics.kit) for kind in MAGICS_CLASSES[1:]))


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext bottender_nb``: drop the magics (and the notebook's bot with them)."""
    manager = ipython.magics_manager
    serving = manager.registry.get(ServeMagics.__name__)
    if serving is not None:
        serving.stop_all()
    for kind in ("line", "cell"):
        for name in MAGIC_NAMES:
            manager.magics[kind].pop(name, None)
    for magics in MAGICS_CLASSES:
        manager.registry.pop(magics.__name__, None)
