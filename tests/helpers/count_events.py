"""A separate OS process for the tests: a counting bot handles N events on a file-store session.

    python count_events.py DIRNAME EVENTS GO_FILE

Waits for GO_FILE to exist, so several processes start their events together. The state
counts ``handovers``: turns that followed another process's turn.
"""

from __future__ import annotations

import asyncio
import os
import sys

from bottender_nb import Bot, FileSessionStore


async def count(context):  # type: ignore[no-untyped-def]
    state = context.state
    await asyncio.sleep(0.0005)  # without the store's lock, other processes would write here
    context.set_state({
        "count": state["count"] + 1,
        "last_pid": os.getpid(),
        # How often the session passed from one process to another: proof they overlapped.
        "handovers": state.get("handovers", 0) + (state.get("last_pid", os.getpid()) != os.getpid()),
    })


async def main(dirname: str, events: int, go_file: str) -> None:
    while not os.path.exists(go_file):
        await asyncio.sleep(0.002)
    bot = Bot(count, initial_state={"count": 0}, session_store=FileSessionStore(dirname))
    for _ in range(events):
        await bot.handle_request({"message": {"text": "hi"}})
        await asyncio.sleep(0.001)  # a pause between requests, as a server has: others get in


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
