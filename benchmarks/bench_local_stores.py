"""Events/s of a counting bot on the memory and file stores, next to this disk's raw write rate.

Prints one JSON object per line. Every figure is the bot users get, ``Bot(action,
initial_state=..., session_store=...)`` (so ``history=1000``), with the ``history=0`` figure
beside it. The file store is compared with what the same directory allows for the same work
done by hand, an atomic small-file write (temp file + ``os.replace``, fsync'd or not, as the
store is), so the ratio measures the store and the runner, not the disk (floor: 0.8x).

The memory store is compared with Bottender's own (``bottender_counting.js``: a counting
``ConsoleBot`` on Bottender's ``MemorySessionStore``; floor: 3x) when ``--bottender DIR``
names a directory holding ``node_modules/bottender`` (``npm install --ignore-scripts
bottender@1.5.5`` there). Ours and Bottender's run in turns, ``--rounds`` times, on a shared
machine: each figure is its best round, so a neighbour's burst in one round counts for neither.

    python benchmarks/bench_local_stores.py [--seconds 2] [--rounds 3] [--bottender DIR]
        [--only memory|file|file-floor]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from bottender_nb import Bot, FileSessionStore, MemorySessionStore
from bottender_nb.record import dumps
from bottender_nb.stores.base import SessionStore

BODY = {"message": {"text": "hi"}}


async def count(context) -> None:  # type: ignore[no-untyped-def]
    context.set_state({"count": context.state["count"] + 1})


async def bot_rate(
    store: SessionStore, seconds: float, block: int = 2000, history: int = 1000
) -> dict[str, float]:
    """Sequential events on one session for about ``seconds``, timed in blocks of ``block``.

    The median block is the figure: on a shared machine another tenant's burst slows a
    few blocks, not the median; the mean over the whole run is reported next to it.
    """
    bot = await _counting_bot(store, history)
    times: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        await _events(bot, block)
        times.append(time.perf_counter() - t0)
    await _check_count(store, block * len(times) + 200)
    return {"median": block / statistics.median(times), "mean": block * len(times) / sum(times),
            "best": block / min(times), "blocks": len(times)}


async def _counting_bot(store: SessionStore, history: int | None) -> Bot:
    """The bot as users write it (history=None: the default), or with ``history`` turns."""
    options = {} if history is None else {"history": history}
    bot = Bot(count, initial_state={"count": 0}, session_store=store, **options)
    await _events(bot, 200)  # warm up: first write, caches, lock file
    return bot


async def _events(bot: Bot, n: int, pause: bool = False) -> int:
    for _ in range(n):
        if pause:  # a loop pass between events, as when each arrives on its own
            await asyncio.sleep(0)
        await bot.handle_request(BODY)
    return n


async def _check_count(store: SessionStore, expected: int) -> None:
    session = await store.read("console:1")
    assert session is not None and session["_state"]["count"] == expected, session


class RawWriter:
    """Atomic writes done by hand: create a temp file, write, [fsync], close, os.replace; with
    ``turn``, also the rest of an event's I/O: that line appended to a file of its own."""

    def __init__(self, dirname: str, data: bytes, durable: bool, turn: bytes = b"") -> None:
        self.dirname, self.data, self.durable, self.turn = dirname, data, durable, turn
        self.target = os.path.join(dirname, "raw:1.json")
        self.turns = os.path.join(dirname, "raw:1.jsonl")
        self.flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        self.written = 0

    def write(self, n: int) -> None:
        for _ in range(n):
            if self.turn:
                fd = os.open(self.turns, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
                os.write(fd, self.turn)
                if self.durable:
                    os.fsync(fd)
                os.close(fd)
            temp = os.path.join(self.dirname, f".raw-{self.written}.tmp")
            fd = os.open(temp, self.flags, 0o666)
            os.write(fd, self.data)
            if self.durable:
                os.fsync(fd)
            os.close(fd)
            os.replace(temp, self.target)
            if self.durable and sys.platform != "win32":
                dir_fd = os.open(self.dirname, os.O_RDONLY)
                os.fsync(dir_fd)
                os.close(dir_fd)
            self.written += 1


async def file_vs_raw(
    dirname: str, durable: bool, seconds: float, pause: bool = False, history: int | None = None
) -> dict[str, float]:
    """Bot events and raw writes in alternating blocks, so a noisy disk or CPU hits both alike.

    Every event locks, reads and writes the file; ``pause`` adds a loop pass between events,
    as when each arrives on its own. Beside the floor's raw write, the same I/O as an event's
    by hand (its session write and its turn's append, no lock, no read): what is left between
    the two ratios is the turn's own write, which the floor does not count.
    """
    store = await FileSessionStore(dirname, durable=durable).init()
    bot = await _counting_bot(store, history)
    record = await store.read("console:1")
    data = dumps(record or {}).encode()
    turns = await store.history.read("console:1")
    turn = (dumps(turns[-1]) + "\n").encode() if turns else b""
    raw, by_hand = RawWriter(dirname, data, durable), RawWriter(dirname, data, durable, turn)
    block = 20 if durable else 100
    times: dict[str, list[float]] = {"bot": [], "raw": [], "by_hand": []}
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        # ABBA order: whichever block runs second also pays for the writeback the first began.
        for bot_first in (True, False):
            if not bot_first:
                times["raw"].append(_timed(raw.write, block))
                times["by_hand"].append(_timed(by_hand.write, block))
            t0 = time.perf_counter()
            await _events(bot, block, pause)
            times["bot"].append(time.perf_counter() - t0)
            if bot_first:
                times["by_hand"].append(_timed(by_hand.write, block))
                times["raw"].append(_timed(raw.write, block))
    await _check_count(store, block * len(times["bot"]) + 200)
    # Medians of neighbouring blocks: a burst of someone else's I/O or CPU skews one pair only.
    def ratio(peer: str) -> float:
        return statistics.median(p / b for b, p in zip(times["bot"], times[peer]))
    return {"events_per_s": block / statistics.median(times["bot"]),
            "raw_writes_per_s": block / statistics.median(times["raw"]),
            "ratio": ratio("raw"), "ratio_to_same_io_by_hand": ratio("by_hand"),
            "blocks": len(times["bot"]), "bytes": len(data)}


def _timed(function: Callable[[int], None], n: int) -> float:
    t0 = time.perf_counter()
    function(n)
    return time.perf_counter() - t0


def emit(**figure: object) -> None:
    print(json.dumps(figure), flush=True)


def bottender_rate(bottender_dir: str, seconds: float) -> float:
    """Bottender's median events/s for the same counting bot on its MemorySessionStore."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bottender_counting.js")
    env = {**os.environ, "NODE_PATH": os.path.join(bottender_dir, "node_modules")}
    out = subprocess.run(["node", script, str(seconds), "memory"], env=env, capture_output=True,
                         text=True, check=True, timeout=60 + seconds)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["median_events_per_s"])


async def memory_vs_bottender(seconds: float, rounds: int, bottender_dir: str | None) -> None:
    """The default Bot, history=0 and Bottender in turns; each figure its best round."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        figures = {"default": (await bot_rate(MemorySessionStore(), seconds, history=None))["median"],
                   "history_0": (await bot_rate(MemorySessionStore(), seconds, history=0))["median"]}
        if bottender_dir:
            figures["bottender"] = bottender_rate(bottender_dir, seconds)
        best = {name: max(rate, best.get(name, 0.0)) for name, rate in figures.items()}
    result: dict[str, object] = {"events_per_s": round(best["default"]),
                                 "history_0_events_per_s": round(best["history_0"])}
    if bottender_dir:
        result |= {"bottender_events_per_s": round(best["bottender"]),
                   "times_bottender": round(best["default"] / best["bottender"], 2),
                   "history_0_times_bottender": round(best["history_0"] / best["bottender"], 2),
                   "target": 3.0, "meets_target": best["default"] >= 3 * best["bottender"]}
    emit(bench="counting_bot_memory", rounds=rounds, **result)


async def main(seconds: float, rounds: int, bottender_dir: str | None, only: str | None) -> None:
    if only in (None, "memory"):
        await memory_vs_bottender(seconds, rounds, bottender_dir)
    if only == "memory":
        return
    cases = ((False, False),) if only == "file-floor" else ((False, False), (True, False), (False, True))
    with tempfile.TemporaryDirectory(prefix="bench-stores-", dir=os.environ.get("BENCH_DIR")) as tmp:
        for durable, pause in cases:
            runs: dict[int | None, list[dict[str, float]]] = {None: [], 0: []}
            for n in range(rounds):  # the default and history=0 in turns
                for history, kept in runs.items():
                    where = os.path.join(tmp, f"d{durable}-p{pause}-h{history}-{n}")
                    kept.append(await file_vs_raw(where, durable, seconds, pause, history))
            default, none = (max(kept, key=lambda f: f["ratio"]) for kept in runs.values())
            target = {} if pause else {"target": 0.8, "meets_target": default["ratio"] >= 0.8}
            emit(bench="file_vs_raw", durable=durable, loop_pass_between=pause,
                 ratio=round(default["ratio"], 3), history_0_ratio=round(none["ratio"], 3),
                 **target, events_per_s=round(default["events_per_s"]),
                 history_0_events_per_s=round(none["events_per_s"]),
                 raw_writes_per_s=round(default["raw_writes_per_s"]), bytes=default["bytes"],
                 ratio_to_same_io_by_hand=round(default["ratio_to_same_io_by_hand"], 3))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each figure; best counts")
    parser.add_argument("--bottender", metavar="DIR", help="a directory with node_modules/bottender")
    parser.add_argument("--only", choices=("memory", "file", "file-floor"),
                        help="one part: the memory store, the file store, or its floor alone")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.rounds, arguments.bottender, arguments.only))
