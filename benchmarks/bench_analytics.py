"""The turn analytics on 1,000,000 turns, against one ``groupby("session_id").size()``, or
against another checkout of the package.

    python benchmarks/bench_analytics.py [--sessions 100000] [--rounds 3] [--shuffled]
    python benchmarks/bench_analytics.py --compare-with DIR [--rounds 5]

Generates a turns frame with SPEC §7's columns (100,000 sessions of 1-19 turns, ~10 on
average, over 60 days; a name -> city -> date -> done flow in ``state.step``, a count, a
language and a nested ``state.profile.city``), in the order ``turns_frame`` gives (by session,
then turn), or shuffled with ``--shuffled`` (so every function has to sort). Then, in each
round, the baseline ``turns.groupby("session_id").size()`` and each function once, so both
see the same machine load. Prints one JSON line per function with its best time, the best
baseline and their ratio; the target is ``ratio <= 3``.

With ``--compare-with DIR`` (the root of another checkout, such as a ``git worktree`` of
``main``), two processes, one importing this checkout's ``bottender_nb`` and one DIR's, build
the same turns; each round times every function once in each, alternating which goes first,
so both see the same machine load. One JSON line per function: both best times and
``ratio`` (this checkout's over DIR's; the target is ``ratio <= 1.1``), and ``cpu_ratio``, the
same of the best CPU times, which a loaded machine disturbs less.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bottender_nb import drop_off, funnel, retention, transitions

STEPS = np.array(["greeted", "asked_name", "asked_city", "asked_date", "done"], dtype=object)
PLATFORMS = np.array(["console", "messenger", "line", "telegram"], dtype=object)
T0 = pd.Timestamp("2026-01-01", tz="UTC").value  # ns


def make_turns(sessions: int, seed: int = 5) -> pd.DataFrame:
    """About ``sessions * 10`` turns, built column by column with numpy (no loop per turn)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 20, size=sessions)
    count = int(lengths.sum())
    session = np.repeat(np.arange(sessions), lengths)
    first_row = np.repeat(np.cumsum(lengths) - lengths, lengths)
    turn = np.arange(count) - first_row
    platform = PLATFORMS[rng.integers(0, len(PLATFORMS), size=sessions)]
    ids = np.array([f"{p}:{i}" for i, p in enumerate(platform)], dtype=object)
    # a message every couple of minutes; one gap in 20 is a return 1-10 days later
    returns = (rng.random(count) < 0.05) * rng.integers(1, 10, count) * 86_400e9
    gaps = rng.exponential(120e9, size=count) + returns
    gaps[turn == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[first_row]
    start = rng.integers(0, 60 * 86_400, size=sessions) * 10**9
    times = T0 + start[session] + elapsed.astype(np.int64)
    stop = rng.integers(0, len(STEPS), size=sessions)  # the furthest step each session gets to
    stage = np.minimum(turn // 2, stop[session])
    stage = np.where((rng.random(count) < 0.05) & (stage > 0), stage - 1, stage)  # an occasional step back
    replies = np.empty(count, dtype=object)
    replies.fill(["ok"])
    return pd.DataFrame({
        "session_id": pd.Series(ids[session], dtype="str"),
        "platform": pd.Series(platform[session], dtype="str"),
        "turn": turn,
        "time": pd.to_datetime(times, utc=True).as_unit("ns"),
        "kind": pd.Series(np.where(rng.random(count) < 0.01, "rewind", "event"), dtype="str"),
        "text": pd.Series(np.where(turn % 2 == 0, "hi", "Paris"), dtype="str"),
        "replies": replies,
        "changed": replies,
        "state.step": pd.Series(STEPS[stage], dtype="str"),
        "state.count": turn + 1,
        "state.language": pd.Series(np.array(["en", "fr", "es", "de"], dtype=object)[session % 4], dtype="str"),
        "state.profile.city": pd.Series(np.where(stage >= 3, "Paris", None), dtype="str"),
    })


def cases(only: list[str] | None = None) -> dict[str, Callable[[pd.DataFrame], object]]:
    steps = [(name, {"step": name}) for name in STEPS[1:]]
    named = {
        "funnel (4 steps)": lambda turns: funnel(turns, steps),
        "funnel (a function step)": lambda turns: funnel(turns, [("3+ messages", lambda s: s["count"] >= 3)]),
        "retention (D)": lambda turns: retention(turns, "D"),
        "retention (W)": lambda turns: retention(turns, "W"),
        "transitions": lambda turns: transitions(turns, "step"),
        "transitions (stays)": lambda turns: transitions(turns, "profile.city", stays=True),
        "drop_off": lambda turns: drop_off(turns, "step", "30min"),
    }
    return {name: case for name, case in named.items() if not only or name in only}


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def serve(turns: pd.DataFrame) -> None:
    """Time one function per line read (its name), answering with a JSON line: the child of
    :func:`compare`, importing the ``bottender_nb`` its ``PYTHONPATH`` points at."""
    import bottender_nb

    print(json.dumps({"package": str(Path(bottender_nb.__file__).parent)}), flush=True)
    named = cases()
    for line in sys.stdin:
        cpu = time.process_time()
        seconds = timed(lambda: named[line.strip()](turns))
        print(json.dumps({"seconds": seconds, "cpu": time.process_time() - cpu}), flush=True)


def compare(other: Path, options: argparse.Namespace) -> None:
    """This checkout against ``other`` (another checkout's root), alternating in each round."""
    here = Path(__file__).resolve().parents[1]
    arguments = [sys.executable, str(Path(__file__).resolve()), "--serve", "--sessions", str(options.sessions)]
    arguments += ["--shuffled"] if options.shuffled else []
    sides = {}
    for name, root in (("this", here), ("other", other.resolve())):
        environment = {**os.environ, "PYTHONPATH": str(root)}
        sides[name] = subprocess.Popen(arguments, cwd=root, env=environment, text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for name, side in sides.items():
        print(json.dumps({"side": name, **json.loads(side.stdout.readline())}), flush=True)
    best = {name: {case: float("inf") for case in cases(options.case)} for name in sides}
    cpu = {name: {case: float("inf") for case in cases(options.case)} for name in sides}
    for number in range(options.rounds):
        for case in cases(options.case):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for name in order:
                sides[name].stdin.write(case + "\n")
                sides[name].stdin.flush()
                answer = json.loads(sides[name].stdout.readline())
                best[name][case] = min(best[name][case], answer["seconds"])
                cpu[name][case] = min(cpu[name][case], answer["cpu"])
    for side in sides.values():
        side.stdin.close()
        side.wait()
    for case in cases(options.case):
        this, that = best["this"][case], best["other"][case]
        print(json.dumps({"function": case, "seconds": round(this, 4), "other_seconds": round(that, 4),
                          "ratio": round(this / that, 3), "cpu_ratio": round(cpu["this"][case] / cpu["other"][case], 3),
                          "target": "ratio <= 1.1"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shuffled", action="store_true", help="rows in random order, not by session")
    parser.add_argument("--compare-with", type=Path, metavar="DIR",
                        help="the root of another checkout (e.g. a git worktree of main) to time against")
    parser.add_argument("--case", action="append", choices=list(cases()), help="time only this function (repeatable)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    started = time.perf_counter()
    if options.compare_with is not None:
        compare(options.compare_with, options)
        return
    turns = make_turns(options.sessions)
    if options.shuffled:
        turns = turns.sample(frac=1, random_state=1, ignore_index=True)
    if options.serve:
        serve(turns)
        return
    print(json.dumps({"turns": len(turns), "sessions": options.sessions, "shuffled": options.shuffled,
                      "generated_seconds": round(time.perf_counter() - started, 2)}))
    best: dict[str, float] = {}
    baseline = float("inf")
    for _ in range(options.rounds):
        baseline = min(baseline, timed(lambda: turns.groupby("session_id").size()))
        for name, case in cases(options.case).items():
            best[name] = min(best.get(name, float("inf")), timed(lambda case=case: case(turns)))
    for name, seconds in best.items():
        print(json.dumps({"function": name, "seconds": round(seconds, 4),
                          "groupby_size_seconds": round(baseline, 4),
                          "ratio": round(seconds / baseline, 2), "target": "ratio <= 3"}))


if __name__ == "__main__":
    main()
