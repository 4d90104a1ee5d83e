"""List every place in tests/ that fails when wall-clock time runs past a limit under 5 s.

    python scripts/check_wall_clock.py tests/

Flags: an assert comparing a time-derived value (monotonic, perf_counter, time.time, or a
name like waited/elapsed/seconds/started) with a number below 5; a timeout below 5 s given to
asyncio.wait_for / asyncio.timeout / a timeout= keyword (a wait that fails when slower);
a literal below 5 in a timeout position of Playwright's expect (timeout= ms below 5000).
Calls inside a ``while`` loop are polls under a deadline and are not counted.
"""
import ast
import sys
from pathlib import Path

LIMIT = 5.0
TIME_WORDS = ("monotonic", "perf_counter", "time.time", "waited", "elapsed", "seconds",
              "started", "duration", "took")


def number(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp):  # e.g. 60 * 1000
        try:
            return float(eval(compile(ast.Expression(node), "", "eval"), {}))
        except Exception:
            return None
    return None


def _in_poll_loop(tree):
    """Nodes inside a ``while`` loop: a short timeout there is one try of a poll that a
    generous deadline bounds, not a limit the test fails on."""
    inside = set()
    for loop in ast.walk(tree):
        if isinstance(loop, ast.While):
            inside.update(id(node) for node in ast.walk(loop))
    return inside


def findings(path):
    tree = ast.parse(path.read_text(), str(path))
    polls = _in_poll_loop(tree)
    for node in ast.walk(tree):
        if id(node) in polls and isinstance(node, ast.Call):
            continue
        if isinstance(node, ast.Assert):
            for compare in [n for n in ast.walk(node.test) if isinstance(n, ast.Compare)]:
                text = ast.unparse(compare)
                if not any(word in text for word in TIME_WORDS):
                    continue
                for op, right in zip(compare.ops, compare.comparators):
                    value = number(right)
                    if isinstance(op, (ast.Lt, ast.LtE)) and value is not None and value < LIMIT:
                        yield node.lineno, f"assert on time < {value:g} s: {text}"
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith(("wait_for", "asyncio.timeout")) and len(node.args) >= 2:
                value = number(node.args[1])
                if value is not None and value < LIMIT:
                    yield node.lineno, f"{name}(..., {value:g})"
            if name.endswith("asyncio.timeout") and node.args:
                value = number(node.args[0])
                if value is not None and value < LIMIT:
                    yield node.lineno, f"{name}({value:g})"
            for keyword in node.keywords:
                if keyword.arg in ("timeout", "timeout_seconds"):
                    value = number(keyword.value)
                    if value is None:
                        continue
                    is_ms = name.startswith(("expect", "page.", "pane.", "box.")) or ".to_" in name or value >= 1000
                    seconds = value / 1000 if is_ms else value
                    if seconds < LIMIT:
                        yield node.lineno, f"{name}(timeout={value:g}) ~ {seconds:g} s"


def main(root):
    count = 0
    for path in sorted(Path(root).rglob("*.py")):
        for line, what in sorted(set(findings(path))):
            print(f"{path}:{line}: {what}")
            count += 1
    print(f"{count} wall-clock limit(s) under {LIMIT:g} s")
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tests"))
