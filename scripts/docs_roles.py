"""A griffe extension for the docs site: Sphinx roles in docstrings read as code.

The package's docstrings cross-reference in Sphinx's reST (``:meth:`webhook_app```,
``:class:`~bottender_nb.turns.Turn```), which mkdocstrings would print as is. Each role
becomes a code span of what a reader would type: the name after the last dot for ``~``
targets, the text otherwise. (A link would tie the page to a module path that may move.)
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:meth|func|class|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite the roles of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_code, obj.docstring.value)
