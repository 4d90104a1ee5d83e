"""How long the chat pane takes to handle and render message n, for n = 10, 1,000 and 10,000.

Plain Python, no browser: one pane is filled to n - 1 messages, then message n is timed (the
median of a few sends around n). Prints one JSON line per n and one with the ratio
msg10000 / msg10 (target: at most 1.5, i.e. a long chat costs no more per message).

    python benchmarks/bench_chat_pane.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bottender_nb import Bot, ChatPane

MARKS = (10, 1_000, 10_000)


async def counter(context) -> None:
    count = context.state.get("count", 0) + 1
    context.set_state(count=count)
    await context.send_text(f"Count: {count}")


def time_messages(pane: ChatPane, repeat: int) -> list[float]:
    """Seconds taken by each of ``repeat`` consecutive sends (each handled and rendered)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        pane.send("Hi")
        timings.append(time.perf_counter() - start)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=25,
                        help="sends timed around each mark (25: one new transcript block included)")
    args = parser.parse_args()
    pane = ChatPane(Bot(counter, initial_state={"count": 0}))
    results: dict[int, float] = {}
    sent = 0
    for mark in MARKS:
        first_timed = mark - args.repeat // 2  # the timed sends straddle message `mark`
        while sent < first_timed - 1:
            pane.send("Hi")
            sent += 1
        timings = time_messages(pane, args.repeat)
        results[mark] = statistics.median(timings)
        sent += args.repeat
        print(json.dumps({
            "message": mark,
            "median_ms": round(results[mark] * 1000, 4),
            "max_ms": round(max(timings) * 1000, 4),
            "transcript_blocks": len(pane.transcript_view.blocks),
        }), flush=True)
    ratio = results[MARKS[-1]] / results[MARKS[0]]
    print(json.dumps({"ratio_msg10000_msg10": round(ratio, 3), "target": 1.5,
                      "ok": ratio <= 1.5}), flush=True)


if __name__ == "__main__":
    main()
