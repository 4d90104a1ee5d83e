"""Turn a recorded chat into a pytest file that replays it turn by turn.

The test file imports the bot's action from its module. An action written in a notebook
(``%%action``) has no module, so it gets one beside the test (``<name>_action.py``), and
``%%action`` rewrites that module each time the cell runs again in the kernel that recorded
it: the test checks the action as the notebook defines it now, not a copy frozen when the
chat was recorded. The turns go to a JSON file beside it. It needs nothing but
``bottender_nb`` and pytest: no notebook, no kernel, no server.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import re
import runpy
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BottenderNbError, HistoryError
from ..frozen import thaw
from ..session.runner import Bot

SOURCE_ATTRIBUTE = "__bottender_source__"
"""Set by ``%%action`` on the function it defines: the code that defines it."""

# action name -> the action modules written for it in this process, which %%action keeps current
_NOTEBOOK_ACTION_MODULES: dict[str, set[Path]] = {}
_MODULE_HEADER = (
    "# The action {name} as a notebook's %%action cell defines it, for the tests beside this\n"
    "# file. %%action {name} rewrites this file each time the cell runs (in the kernel that\n"
    "# recorded the tests), so they check the action as it is now. Edit the cell, not this.\n\n"
)


class TestWriteError(BottenderNbError, ValueError):
    """A recorded chat that cannot be written as a test where or as asked."""

    __test__ = False  # not a pytest test class, despite its name


def write_test(path: str | os.PathLike[str], bot: Bot, session_id: str) -> Path:
    """Write a pytest file replaying ``session_id``'s kept turns against ``bot``; its path.

    ``path`` is the test file (``test_*.py``) or a directory to put ``test_<session>.py`` in.
    The turns go to ``<test file stem>.turns.json`` beside it.
    """
    turns = [turn.as_record() for turn in bot.history(session_id)]
    if not turns:
        raise HistoryError(f"{session_id!r} has no kept turns to record; chat with it first.")
    target = _test_path(Path(path), session_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = target.with_name(target.stem + ".turns.json")
    recording = {"session_id": session_id, "initial_state": thaw(bot.initial_state),
                 "turns": thaw(turns)}
    data.write_text(json.dumps(recording, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    target.write_text(_test_source(bot.action, target, data.name, session_id, len(turns)),
                      encoding="utf-8")
    return target


def action_from_source(source: str, name: str) -> Callable[..., Any]:
    """Define an action from the source a test file carries, and return it (tests written
    before actions got their own module carry it this way)."""
    namespace: dict[str, Any] = {"__name__": f"recorded_{name}"}
    exec(compile(source, f"<recorded action {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]  # type: ignore[no-any-return]


def load_action(path: str | os.PathLike[str], name: str) -> Callable[..., Any]:
    """The action ``name`` from the action module at ``path`` (run by path, so two test
    folders' modules of the same name never shadow each other in ``sys.modules``)."""
    namespace = runpy.run_path(str(path), run_name=f"recorded_action_{Path(path).stem}")
    if not callable(namespace.get(name)):
        raise TestWriteError(f"{str(path)!r} defines no action {name!r}; run its %%action cell "
                             "and %record_test again.")
    return namespace[name]  # type: ignore[no-any-return]


def refresh_action_modules(action: Callable[..., Any]) -> list[Path]:
    """Rewrite the action modules recorded tests read for ``action``'s name with its source
    now (``%%action`` calls this); the modules rewritten. Deleted ones are forgotten."""
    name = getattr(action, "__name__", "")
    source = getattr(action, SOURCE_ATTRIBUTE, None)
    written = _NOTEBOOK_ACTION_MODULES.get(name, set())
    if source is None:
        return []
    for module in sorted(written):
        if module.exists():
            module.write_text(_MODULE_HEADER.format(name=name) + source, encoding="utf-8")
        else:
            written.discard(module)
    return sorted(written)


def _test_path(path: Path, session_id: str) -> Path:
    if path.is_dir() or not path.suffix:
        slug = re.sub(r"[^0-9A-Za-z]+", "_", session_id).strip("_") or "session"
        return path / f"test_{slug}.py"
    if path.suffix != ".py" or not (path.stem.startswith("test_") or path.stem.endswith("_test")):
        raise TestWriteError(
            f"{str(path)!r} is not a file pytest collects; name it test_<something>.py."
        )
    return path


def _test_source(action: Callable[..., Any], target: Path, data: str, session_id: str,
                 count: int) -> str:
    name = getattr(action, "__name__", "App")
    today = dt.date.today().isoformat()
    action_code = _action_code(action, target)
    where = _NOTEBOOK_NOTE.format(name=name) if "load_action" in action_code else _MODULE_NOTE
    header = f'''"""A chat with the bot's action {name}, recorded on {today}: {count} turns of {session_id}.

{where}

Written by bottender_nb.write_test; run it with plain pytest. Each turn is replayed on a fresh
memory store with the recorded clock; a failure names the turn and shows expected vs actual.
"""
'''
    body = f'''
RECORDING = json.loads((Path(__file__).parent / {data!r}).read_text(encoding="utf-8"))


def test_the_recorded_chat_replays_turn_by_turn():
    bot = Bot({name}, initial_state=RECORDING["initial_state"])
    for recorded, actual in replay_pairs(RECORDING["turns"], bot):
        turn = f"turn {{recorded.index}} ({{recorded.kind}} {{recorded.text or recorded.payload or ''!r}})"
        # left: what the bot does now; right: what was recorded
        assert actual.replies == recorded.replies, f"{{turn}}: the bot's replies changed"
        assert actual.state == recorded.state, f"{{turn}}: the state after it changed"
'''
    imports = (
        "import json\n" + ("import sys\n" if "sys.path" in action_code else "")
        + "from pathlib import Path\n\nfrom bottender_nb import Bot\n"
        + "from bottender_nb.testing import replay_pairs\n"
    )
    return header + "\n" + imports + action_code + "\n" + body


def _action_code(action: Callable[..., Any], target: Path) -> str:
    """Code that makes the action available in the test: an import from its module, or from
    the action module written beside the test for an action that has none."""
    name = getattr(action, "__name__", None)
    module = sys.modules.get(getattr(action, "__module__", "") or "")
    module_file = getattr(module, "__file__", None)
    if name and module_file and module.__name__ != "__main__" and getattr(module, name, None) is action:
        folder = os.path.relpath(Path(module_file).resolve().parent, target.resolve().parent)
        top = module.__name__.split(".")[0]
        if module.__name__ != top or Path(module_file).name == "__init__.py":
            folder = os.path.relpath(_package_root(module_file, module.__name__),
                                     target.resolve().parent)
        return (
            "\n# the bot's module, found from this file wherever the two are checked out\n"
            f"sys.path.insert(0, str(Path(__file__).parent / {Path(folder).as_posix()!r}))\n\n"
            f"from {module.__name__} import {name}  # noqa: E402\n"
        )
    return _notebook_action_code(action, name or "App", target)


_MODULE_NOTE = "The action is imported from its module: the test checks the bot's code as it is now."
_NOTEBOOK_NOTE = """The action {name} was written in a notebook, so it lives in the module beside this
file that ACTION_MODULE names. %%action {name} rewrites that module each time the cell runs
again in the kernel that recorded this test, so the test checks the action as the notebook
defines it now, not as it was when the chat was recorded. After a kernel restart, run the
%%action cell (or %record_test) again before pytest."""


def _notebook_action_code(action: Callable[..., Any], name: str, target: Path) -> str:
    """Write the action's source as a module beside the test; the code that loads it."""
    source = getattr(action, SOURCE_ATTRIBUTE, None)
    if source is None:
        try:
            source = textwrap.dedent(inspect.getsource(action))
        except (OSError, TypeError) as exc:
            raise TestWriteError(
                f"The source of the action {name!r} cannot be found ({exc}); define it in a "
                "module, or in a notebook with %%action."
            ) from None
    module = target.with_name(_module_stem(target) + "_action.py")
    module.write_text(_MODULE_HEADER.format(name=name) + source, encoding="utf-8")
    _NOTEBOOK_ACTION_MODULES.setdefault(name, set()).add(module.resolve())
    return (
        "from bottender_nb.testing import load_action\n\n"
        f"ACTION_MODULE = Path(__file__).parent / {module.name!r}\n"
        f"{name} = load_action(ACTION_MODULE, {name!r})\n"
    )


def _module_stem(target: Path) -> str:
    """``test_pizza.py`` -> ``pizza``: a name pytest does not collect as a test file."""
    stem = target.stem
    return stem.removeprefix("test_") if stem.startswith("test_") else stem.removesuffix("_test")


def _package_root(module_file: str, module_name: str) -> Path:
    """The folder to put on sys.path so that ``module_name`` imports."""
    folder = Path(module_file).resolve().parent
    depth = module_name.count(".") + (Path(module_file).name == "__init__.py")
    for _ in range(depth):
        folder = folder.parent
    return folder


