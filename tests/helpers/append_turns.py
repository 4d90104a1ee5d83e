"""A separate OS process for the tests: a counting bot keeps N turns of one session's history.

    python append_turns.py file DIRNAME EVENTS GO_FILE [KEEP]
    python append_turns.py redis PORT EVENTS GO_FILE [cluster]

KEEP: the turns kept per session (default: all of them).

Waits for GO_FILE to exist, so several processes start their events together. The state
keeps the ``pid`` of the last turn and counts ``handovers`` between processes.
"""

from __future__ import annotations

import asyncio
import os
import sys

from bottender_nb import Bot, FileSessionStore, RedisSessionStore


async def count(context):  # type: ignore[no-untyped-def]
    state = context.state
    await asyncio.sleep(0.0005)  # without the store's lock, other processes would write here
    pid, last = os.getpid(), state.get("pid", os.getpid())
    # handovers: turns that followed another process's turn, the proof that the two overlapped
    context.set_state({"count": state["count"] + 1, "pid": pid,
                       "handovers": state.get("handovers", 0) + (last != pid)})


async def main(kind: str, where: str, events: int, go_file: str, cluster: bool, keep: int) -> None:
    if kind == "file":
        store = FileSessionStore(where)
    else:
        store = RedisSessionStore(port=int(where), cluster=cluster)
    bot = Bot(count, initial_state={"count": 0}, session_store=store, history=keep)
    await store.init()
    while not os.path.exists(go_file):
        await asyncio.sleep(0.002)
    for _ in range(events):
        await bot.handle_request({"message": {"text": "hi"}})
        await asyncio.sleep(0.001)  # a pause between requests, as a server has: others get in
    await store.close()


if __name__ == "__main__":
    kind, where, events, go_file = sys.argv[1:5]
    cluster = sys.argv[5:] == ["cluster"]
    keep = int(sys.argv[5]) if sys.argv[5:] and not cluster else 10 * int(events)
    asyncio.run(main(kind, where, int(events), go_file, cluster, keep))
