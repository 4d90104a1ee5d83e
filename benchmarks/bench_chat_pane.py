"""How long the chat pane takes to handle and render message n, for n = 10, 1,000 and 10,000.

Plain Python, no browser and no kernel (widget messages go nowhere). A message is one
exchange: the user's bubble, the bot's reply bubble and the state panel's update.

One pane is filled to 999 messages and another to 9,999; then, in rounds, a fresh pane's 10th
message, the next message of the first pane and the next of the second are timed one right
after the other, so machine noise hits every n alike. The median over the rounds is message
n's cost. Prints one JSON line per n and one with the ratio msg10000 / msg10 (target: at most
1.5, i.e. a long chat costs no more per message).

    python benchmarks/bench_chat_pane.py [--rounds 51]
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


def filled_pane(messages: int) -> ChatPane:
    pane = ChatPane(Bot(counter, initial_state={"count": 0}))
    for _ in range(messages):
        pane.send("Hi")
    return pane


def timed_send(pane: ChatPane) -> float:
    start = time.perf_counter()
    pane.send("Hi")
    return time.perf_counter() - start


def measure(rounds: int) -> dict[int, list[float]]:
    """Seconds taken by message n (n in MARKS), one sample of each per round."""
    long_panes = {mark: filled_pane(mark - 1) for mark in MARKS[1:]}
    timings: dict[int, list[float]] = {mark: [] for mark in MARKS}
    for _ in range(rounds):
        short = filled_pane(MARKS[0] - 1)
        timings[MARKS[0]].append(timed_send(short))
        short.close()
        for mark, pane in long_panes.items():  # message mark, mark + 1, ... in later rounds
            timings[mark].append(timed_send(pane))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=51, help="samples per n")
    args = parser.parse_args()
    filled_pane(100).close()  # warm-up: imports, caches, first calls
    timings = measure(args.rounds)
    medians = {mark: statistics.median(samples) for mark, samples in timings.items()}
    for mark in MARKS:
        print(json.dumps({
            "message": mark,
            "median_ms": round(medians[mark] * 1000, 4),
            "max_ms": round(max(timings[mark]) * 1000, 4),
            "rounds": len(timings[mark]),
        }), flush=True)
    ratio = medians[MARKS[-1]] / medians[MARKS[0]]
    print(json.dumps({"ratio_msg10000_msg10": round(ratio, 3), "target": 1.5,
                      "ok": ratio <= 1.5}), flush=True)


if __name__ == "__main__":
    main()
