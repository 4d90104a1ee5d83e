"""The one check at the config edge: what an option must be, and the error naming it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, show


@dataclass(frozen=True)
class Rule:
    """What one option must be: a test, the words for it, and an example to copy."""

    fits: Callable[[Any], bool]
    must_be: str
    example: str

    def check(self, path: str, value: Any) -> Any:
        """``value``, or a ConfigError naming ``path``, the value and the fix."""
        if not self.fits(value):
            raise ConfigError(f"{path} is {show(value)}; it must be {self.must_be}, "
                              f"e.g. {path.rsplit('.', 1)[-1]}: {self.example}.")
        return value
