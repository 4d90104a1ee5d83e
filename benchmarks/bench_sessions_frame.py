"""sessions_frame on 100,000 session files, against this machine's raw read + parse rate.

    python benchmarks/bench_sessions_frame.py [--sessions 100000] [--rounds 3]

Writes the files (Bottender's format, small realistic states) to a temporary directory,
then, alternating in each round so that both see the same machine load and a warm page
cache: the raw rate (list the directory, ``open().read()`` and ``json.loads`` every file,
keep nothing else) and ``sessions_frame(dir)``. Prints one JSON line per round and a
summary on the best round of each; the target is ``ratio >= 0.5``. The directory is removed.
A second baseline, ``raw_lean`` (bare ``os.open``/``os.read``), shows the floor of file I/O;
``ratio_cpu`` compares process CPU time, which a busy machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

from bottender_nb import sessions_frame
from bottender_nb.record import parse as fast_parse

PLATFORMS = ("console", "messenger", "line", "telegram", "slack")
T0_MS = 1_578_000_000_000


def make_session(index: int, rnd: random.Random) -> dict:
    """A session as a Bottender bot stores it, with a small state of the usual kinds."""
    platform = rnd.choice(PLATFORMS)
    state: dict = {
        "count": rnd.randint(0, 50),
        "name": rnd.choice(["Ann", "Bob", "Chen", None]),
        "subscribed": rnd.random() < 0.3,
        "history": rnd.sample(["hi", "help", "buy", "bye"], rnd.randint(0, 3)),
        "profile": {"age": rnd.randint(16, 80), "lang": rnd.choice(["en", "zh", "fr"])},
    }
    if index % 7 == 0:
        del state["profile"]  # older sessions lack newer fields
    if index % 5 == 0:
        state["cart"] = {"items": rnd.randint(0, 4), "total": round(rnd.random() * 100, 2)}
    record = {
        "id": f"{platform}:{index}", "platform": platform,
        "user": {"id": str(index), "_updatedAt": "2020-01-03T00:00:00.000Z"},
        "_state": state, "lastActivity": T0_MS + index * 1000,
    }
    if platform == "messenger":
        record["page"] = {"id": "1895382890692545", "_updatedAt": "2020-01-03T00:00:00.000Z"}
    return record


def write_sessions(dirname: str, count: int) -> None:
    rnd = random.Random(5)
    for index in range(count):
        record = make_session(index, rnd)
        with open(os.path.join(dirname, f"{record['id']}.json"), "w", encoding="utf-8") as file:
            file.write(json.dumps(record, separators=(",", ":")))


def raw(dirname: str) -> int:
    """The plain rate: every file read and parsed, nothing else."""
    count = 0
    for name in os.listdir(dirname):
        if name.endswith(".json"):
            with open(os.path.join(dirname, name), "rb") as file:
                json.loads(file.read())
            count += 1
    return count


def raw_lean(dirname: str) -> int:
    """The same with bare descriptors and the parser sessions_frame uses (orjson): the limit."""
    count = 0
    for name in os.listdir(dirname):
        if name.endswith(".json"):
            fd = os.open(os.path.join(dirname, name), os.O_RDONLY)
            try:
                fast_parse(os.read(fd, 1 << 16))
            finally:
                os.close(fd)
            count += 1
    return count


def frame(dirname: str) -> int:
    return len(sessions_frame(dirname, progress=False))


def timed(function, dirname: str) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    count = function(dirname)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"files": count, "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
            "per_second": round(count / wall)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    dirname = tempfile.mkdtemp(prefix="bnb-bench-")
    try:
        started = time.perf_counter()
        write_sessions(dirname, args.sessions)
        print(json.dumps({"wrote": args.sessions, "seconds": round(time.perf_counter() - started, 1)}))
        best: dict[str, dict] = {}
        least_cpu: dict[str, float] = {}
        for round_number in range(1, args.rounds + 1):
            results = {name: timed(function, dirname)
                       for name, function in (("raw", raw), ("raw_lean", raw_lean), ("frame", frame))}
            for name, result in results.items():
                if name not in best or result["seconds"] < best[name]["seconds"]:
                    best[name] = result
                least_cpu[name] = min(least_cpu.get(name, float("inf")), result["cpu_seconds"])
            ratio = results["frame"]["per_second"] / results["raw"]["per_second"]
            print(json.dumps({"round": round_number, **results, "ratio": round(ratio, 2)}))
        ratio = best["frame"]["per_second"] / best["raw"]["per_second"]
        print(json.dumps({
            "summary": "best round of each", "sessions": args.sessions, **best,
            "ratio": round(ratio, 2), "ratio_vs_raw_lean":
            round(best["frame"]["per_second"] / best["raw_lean"]["per_second"], 2),
            "least_cpu_seconds": least_cpu,
            "ratio_cpu": round(least_cpu["raw"] / least_cpu["frame"], 2),
            "target": 0.5, "ok": ratio >= 0.5,
        }))
        return 0 if ratio >= 0.5 else 1
    finally:
        shutil.rmtree(dirname, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
