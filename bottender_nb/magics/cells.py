"""What the cell magics make of a cell: a Bottender config, or an action function."""

from __future__ import annotations

import ast
import json
import keyword
from collections.abc import Callable, MutableMapping
from typing import Any

from ..errors import CellError, ConfigError

DEFAULT_ACTION_NAME = "App"
# Statements that only define things: a cell made of these (and one async def) *is* the action.
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                ast.Assign, ast.AnnAssign)


def parse_config(text: str) -> dict[str, Any]:
    """A ``%%bottender_config`` cell: JSON, or a Python dict literal."""
    text = text.strip()
    if not text:
        raise ConfigError('The config cell is empty; write e.g. {"initialState": {"count": 0}}.')
    try:
        config = json.loads(text)
    except ValueError:
        try:
            config = ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            reason = _bare_word(text) or getattr(exc, "msg", None) or str(exc)
            raise ConfigError(
                f"The config cell is neither JSON nor a Python dict literal ({reason}); "
                'write e.g. {"session": {"driver": "file"}}.'
            ) from None
    if not isinstance(config, dict):
        raise ConfigError(f"The config must be an object (a dict), not {type(config).__name__}.")
    return config


def _bare_word(text: str) -> str | None:
    """``the bare word count, line 1: quote it, "count"``: a name where a value must be, or
    another expression that is no literal, said in words (literal_eval names it only as
    ``<ast.Name object at 0x...>``)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    names = [node for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in called]
    if not names:
        return "only literals can be read: strings, numbers, lists, dicts, True/False/None"
    first = min(names, key=lambda node: (node.lineno, node.col_offset))
    if first.id in _JSON_WORDS:
        return (f"{first.id}, line {first.lineno}, is JSON: write JSON with double quotes "
                f"throughout, or {_JSON_WORDS[first.id]} in a Python dict")
    return f'the bare word {first.id}, line {first.lineno}: quote it, "{first.id}"'


_JSON_WORDS = {"true": "True", "false": "False", "null": "None"}


def define_action(
    source: str, name: str | None, namespace: MutableMapping[str, Any], *, filename: str
) -> Callable[..., Any]:
    """Define the action a ``%%action`` cell describes in ``namespace``, and return it.

    A cell that defines ``async def Name(...)`` at top level (or, without a name, a cell of
    definitions holding one async function) is run as written; any other cell becomes the body
    of ``async def Name(context, props=None)``, so ``context`` and ``await`` work in it.
    """
    if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
        raise CellError(f"{name!r} cannot name an action; use a Python identifier such as App.")
    try:
        tree = ast.parse(source, filename=filename)
        defined = _defined_action(tree, name)
        carried = source  # what write_test carries into a test file: it runs without this notebook
        if defined is None:
            defined = name or DEFAULT_ACTION_NAME
            tree = _as_action_body(tree, defined)
            carried = ast.unparse(tree)
        code = compile(tree, filename, "exec")
    except SyntaxError as exc:  # one line naming the cell's line; the caret adds little here
        raise CellError(_syntax_error_line(exc)) from None
    exec(code, namespace)  # noqa: S102 - the user's own cell
    action = namespace[defined]
    action.__bottender_source__ = carried
    return action


def _syntax_error_line(error: SyntaxError) -> str:
    """``SyntaxError in this %%action cell, line 2: invalid syntax: x = = 1``."""
    code = (error.text or "").strip()
    shown = f": {code}" if code else ""
    return f"SyntaxError in this %%action cell, line {error.lineno}: {error.msg}{shown}"


def _defined_action(tree: ast.Module, name: str | None) -> str | None:
    """The name of the async function the cell itself defines as the action, if it does."""
    defined = [node.name for node in tree.body if isinstance(node, ast.AsyncFunctionDef)]
    wanted = name or DEFAULT_ACTION_NAME
    if wanted in defined:
        return wanted
    only_definitions = all(_is_definition(node) for node in tree.body)
    if name is None and len(defined) == 1 and only_definitions:
        return defined[0]
    return None


def _is_definition(node: ast.stmt) -> bool:
    docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    return docstring or isinstance(node, _DEFINITIONS)


def _as_action_body(tree: ast.Module, name: str) -> ast.Module:
    """``async def name(context, props=None): <the cell>``, keeping the cell's line numbers."""
    arguments = ast.arguments(
        posonlyargs=[], args=[ast.arg("context"), ast.arg("props")], vararg=None,
        kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[ast.Constant(None)],
    )
    # Python 3.12 added type parameters to function definitions.
    generic = "type_params" in ast.AsyncFunctionDef._fields
    fields: dict[str, Any] = {"type_params": []} if generic else {}
    function = ast.AsyncFunctionDef(
        name=name, args=arguments, body=tree.body or [ast.Pass()], decorator_list=[],
        returns=None, type_comment=None, lineno=1, col_offset=0, **fields,
    )
    module = ast.Module(body=[function], type_ignores=[])
    return ast.fix_missing_locations(module)
