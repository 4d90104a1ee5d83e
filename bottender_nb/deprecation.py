"""Modules that moved keep working from their old path for one release, with a warning."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved_module(old_module: str, new_module: str) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``old_module``: each name taken from ``new_module``, with
    a DeprecationWarning that says where to import it from now."""

    def __getattr__(name: str) -> Any:
        value = getattr(importlib.import_module(new_module), name)
        warnings.warn(
            f"{old_module} has moved to {new_module}: import {name} from there (or from "
            f"bottender_nb); {old_module} goes in the next release.",
            DeprecationWarning, stacklevel=2,
        )
        return value

    return __getattr__
