"""Export a file store's turns to Parquet in bounded memory, then DuckDB on the export against pandas.

    python benchmarks/bench_exports.py [--sessions 100000] [--turns 100] [--dir DIR] [--keep]

Writes a file store's histories (``<dir>/.history/*.jsonl``) directly, in the stored format
(``{"index":N,"keep":K,...turn...}`` per line), ``--sessions`` x ``--turns`` turns with a
greeted -> asked_name -> asked_city -> asked_date -> done flow in ``state.step`` and a return a
few days later now and then. Then each step runs in a child process of its own, whose peak RSS
is read from ``os.wait4`` (the rusage of that child alone):

* ``export_turns`` of the store's directory to one Parquet file (the target: peak RSS <= 1 GiB);
* ``funnel`` and ``retention`` on ``duckdb.read_parquet(path)``;
* the same functions on ``turns_frame(path)``, the pandas frame of the same turns (its load
  timed apart).

``--duckdb-memory-limit 4GB`` caps DuckDB's memory (past it, it spills to a temp directory next
to the export); by default DuckDB takes up to 80% of the machine's. Prints one JSON line per step
(seconds, peak RSS in MiB), then one per function with DuckDB's time and peak RSS as ratios of
pandas'. The pandas child needs the whole frame in memory; with ``--pandas-max`` turns (default
30M) or more it is skipped and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

STEPS = ["greeted", "asked_name", "asked_city", "asked_date", "done"]
PLATFORMS = ["console", "messenger", "line", "telegram"]
T0 = 1_767_225_600  # 2026-01-01 UTC, epoch seconds
MIB = 1024 * 1024


def generate(dirname: str, sessions: int, turns: int, seed: int = 23) -> int:
    """The histories of ``sessions`` sessions of ``turns`` turns each, one file per session."""
    from bottender_nb.stores.file_history import FileHistory

    history = FileHistory(dirname)
    os.makedirs(history.dirname, exist_ok=True)
    rng = np.random.default_rng(seed)
    starts = T0 + rng.integers(0, 60 * 86_400, size=sessions)
    stops = rng.integers(0, len(STEPS), size=sessions)  # the furthest step each session gets to
    gaps = rng.exponential(120, size=(sessions, turns)).astype(np.int64)
    gaps += (rng.random((sessions, turns)) < 0.02) * rng.integers(1, 10, (sessions, turns)) * 86_400
    for session in range(sessions):
        platform = PLATFORMS[session % len(PLATFORMS)]
        session_id = f"{platform}:{session}"
        times = starts[session] + np.cumsum(gaps[session]) - gaps[session, 0]
        head = '"session_id":"%s","platform":"%s","time":' % (session_id, platform)
        lines = [
            '{"index":%d,"keep":%d,%s%d,"kind":"event","text":"%s","replies":["ok"],"changed":["step"],'
            '"state":{"step":"%s","count":%d,"language":"%s"},"state_before":{},"event":{}}\n'
            % (turn, turns, head, times[turn], "hi" if turn % 2 else "Paris",
               STEPS[min(turn // 10, stops[session])], turn + 1, ("en", "fr", "de")[session % 3])
            for turn in range(turns)
        ]
        with open(history.path(session_id), "w", encoding="utf-8") as file:
            file.write("".join(lines))
    return sessions * turns


def child(mode: str, source: str, target: str) -> dict:
    """One measured step (in its own process): what it did and how long it took."""
    steps = [(name, {"step": name}) for name in STEPS[1:]]
    if mode == "export":
        from bottender_nb import export_turns

        started = time.perf_counter()
        export_turns(source, target, progress=False)
        return {"seconds": time.perf_counter() - started, "parquet_mib": os.path.getsize(target) / MIB}
    from bottender_nb import funnel, retention, turns_frame

    calls = {"funnel": lambda turns: funnel(turns, steps), "retention": lambda turns: retention(turns, "D")}
    engine, function = mode.split(":")
    started = time.perf_counter()
    if engine == "duckdb":
        import duckdb

        limit = os.environ.get("BENCH_DUCKDB_MEMORY_LIMIT")  # past it, DuckDB spills to disk
        config = {"temp_directory": os.path.join(os.path.dirname(target), "duckdb.tmp")}  # not the cwd
        connection = duckdb.connect(config={**config, "memory_limit": limit} if limit else config)
        result = calls[function](connection.read_parquet(target)).df()  # the query runs here
        return {"seconds": time.perf_counter() - started, "rows": len(result), "answer": _answer(result, function)}
    turns = turns_frame(target)
    loaded = time.perf_counter()
    result = calls[function](turns)
    done = time.perf_counter()
    return {"seconds": done - loaded, "load_seconds": loaded - started, "turns": len(turns),
            "answer": _answer(result, function)}


def _answer(result, function: str) -> object:
    """Enough of the answer to see both engines agree: sessions per step; the cohort table's
    shape, cohort sizes and the sum of its shares (DuckDB's long form made that table first)."""
    if function == "funnel":
        return [int(value) for value in result["sessions"]]
    from bottender_nb.analysis.retention import retention_table

    table = result if "share" not in result.columns else retention_table(result, "D")
    return [list(table.shape), sum(table.attrs["cohort_sizes"]), round(float(np.nansum(table.to_numpy())), 6)]


def measured(mode: str, source: str, target: str) -> dict:
    """Run ``mode`` in a child process; its JSON line plus its own peak RSS."""
    process = subprocess.Popen([sys.executable, __file__, "--child", mode, source, target], stdout=subprocess.PIPE)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        return {"step": mode, "error": f"exit {process.returncode}", "peak_rss_mib": usage.ru_maxrss / 1024}
    return {"step": mode, **json.loads(output), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--dir", help="where the store and the export go (default: a temp dir, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the store and the export")
    parser.add_argument("--pandas-max", type=int, default=30_000_000)
    parser.add_argument("--duckdb-memory-limit", help="DuckDB's memory_limit, e.g. 2GB (default: DuckDB's own)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.duckdb_memory_limit:
        os.environ["BENCH_DUCKDB_MEMORY_LIMIT"] = args.duckdb_memory_limit
    workdir = args.dir or tempfile.mkdtemp(prefix="bench_exports_")
    store, target = os.path.join(workdir, "store"), os.path.join(workdir, "turns.parquet")
    try:
        started = time.perf_counter()
        count = generate(store, args.sessions, args.turns)
        emit({"step": "generate", "turns": count, "sessions": args.sessions, "seconds": time.perf_counter() - started})
        export = measured("export", store, target)
        emit({**export, "turns": count, "target_peak_rss_mib": 1024, "within": export["peak_rss_mib"] <= 1024})
        for function in ("funnel", "retention"):
            on_duckdb = emit(measured(f"duckdb:{function}", store, target))
            if count >= args.pandas_max:
                emit({"step": f"pandas:{function}", "skipped": f"{count} turns >= --pandas-max"})
                continue
            on_pandas = emit(measured(f"pandas:{function}", store, target))
            emit(compared(function, count, on_duckdb, on_pandas))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def compared(function: str, count: int, on_duckdb: dict, on_pandas: dict) -> dict:
    """DuckDB against pandas: time (with and without pandas' load) and peak RSS as ratios."""
    if "error" in on_duckdb or "error" in on_pandas:
        return {"function": function, "turns": count, "error": "a step failed"}
    pandas_total = on_pandas["seconds"] + on_pandas["load_seconds"]
    return {
        "function": function, "turns": count, "same_answer": on_duckdb["answer"] == on_pandas["answer"],
        "duckdb_over_pandas_time": round(on_duckdb["seconds"] / on_pandas["seconds"], 2),
        "duckdb_over_pandas_time_with_load": round(on_duckdb["seconds"] / pandas_total, 2),
        "duckdb_over_pandas_peak_rss": round(on_duckdb["peak_rss_mib"] / on_pandas["peak_rss_mib"], 2),
    }


def emit(line: dict) -> dict:
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value for key, value in line.items()}),
          flush=True)
    return line


if __name__ == "__main__":
    main()
