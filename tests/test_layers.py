"""The package's imports point one way: no import cycle; ``stores/`` never imports
``session/``; the notebook layer (``pane/``, ``magics/``) sits on top of the core, which never
imports it, and the pane never imports the magics. Every import counts, also those inside
functions or under ``TYPE_CHECKING``: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bottender_nb"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports (``from . import x`` names module x)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    # a package's own __init__ is what ``from .x import y`` runs first; it is left out
    # unless imported by name, so that ``x -> package`` does not make every module a cycle
    return {name: imported_modules(path, set(paths)) - {name.rpartition(".")[0]}
            for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                found.add(frozenset(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert found == set(), sorted(map(sorted, found))


def test_stores_never_import_session():
    graph = import_graph()
    wrong = {(module, imported) for module, imports in graph.items()
             if module.startswith("bottender_nb.stores") for imported in imports
             if imported.startswith("bottender_nb.session")}
    assert wrong == set()


NOTEBOOK_LAYER = ("bottender_nb.pane", "bottender_nb.magics", "bottender_nb.notebook")
# What sits on top of the core: these may import the notebook layer (console must not, below).
ON_TOP = (*NOTEBOOK_LAYER, "bottender_nb.console", "bottender_nb.analysis", "bottender_nb.testing",
          "bottender_nb.serving")


def in_package(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def imports_into(graph: dict[str, set[str]], packages: tuple[str, ...]) -> set[tuple[str, str]]:
    """(module, imported) for every import of a module inside ``packages``."""
    return {(module, imported) for module, imports in graph.items() for imported in imports
            if in_package(imported, packages)}


def test_no_core_module_imports_the_notebook_layer():
    """The package's ``__init__`` is its public face: it names ChatPane and the %load_ext
    hook lazily, and is left out; every other core module is held to it."""
    graph = import_graph()
    wrong = {(module, imported) for module, imported in imports_into(graph, NOTEBOOK_LAYER)
             if module != "bottender_nb" and not in_package(module, ON_TOP)}
    assert wrong == set()


def test_console_imports_neither_the_pane_nor_the_magics():
    wrong = {(module, imported) for module, imported in imports_into(import_graph(), NOTEBOOK_LAYER)
             if module == "bottender_nb.console"}
    assert wrong == set()


def test_the_pane_never_imports_the_magics():
    """The magics open chat panes (%chat); the pane is usable without them (ChatPane(bot))."""
    graph = import_graph()
    wrong = {(module, imported) for module, imported in imports_into(graph, ("bottender_nb.magics",))
             if in_package(module, ("bottender_nb.pane",))}
    assert wrong == set()


def test_the_layer_check_finds_a_core_module_importing_the_pane():
    graph = {"bottender_nb.commands": {"bottender_nb.pane.speakers"},
             "bottender_nb.console": {"bottender_nb.magics.cells"},
             "bottender_nb.magics.cells": {"bottender_nb.pane.markup"}}
    assert imports_into(graph, NOTEBOOK_LAYER) == {
        ("bottender_nb.commands", "bottender_nb.pane.speakers"),
        ("bottender_nb.console", "bottender_nb.magics.cells"),
        ("bottender_nb.magics.cells", "bottender_nb.pane.markup"),
    }


def test_the_cycle_finder_finds_a_cycle_and_only_that():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == {frozenset({"a", "b", "c"})}


def private_bot_names() -> set[str]:
    """The private methods and attributes the Bot class defines (``_handle_event`` ...)."""
    tree = ast.parse((PACKAGE / "session" / "runner.py").read_text(encoding="utf-8"))
    bot = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Bot")
    names = {node.name for node in bot.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names |= {target.attr for node in ast.walk(bot) if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Attribute)}
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def private_bot_uses(source: str, private: set[str]) -> list[str]:
    """Uses of those names on anything but ``self`` (another class's own attribute)."""
    return [f"line {node.lineno}: .{node.attr}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in private
            and not (isinstance(node.value, ast.Name) and node.value.id == "self")]


def test_no_module_outside_session_uses_a_private_bot_method():
    """Time travel, replay, the notebook and the console use the Bot's public API."""
    private = private_bot_names()
    assert {"_handle_event", "_notify", "_listeners"} <= private
    found = {str(path.relative_to(PACKAGE)): uses for path in PACKAGE.rglob("*.py")
             if path.parent.name != "session"
             if (uses := private_bot_uses(path.read_text(encoding="utf-8"), private))}
    assert found == {}


def test_the_private_use_finder_finds_one():
    found = private_bot_uses("bot._notify(turn)\nbot.say('x')\nself._notify()", {"_notify"})
    assert found == ["line 1: ._notify"]
