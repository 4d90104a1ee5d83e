"""A separate OS process for the tests: rewrite several big sessions until killed.

    python write_storm.py DIRNAME SESSIONS BLOB_REPEAT

Prints ``ready`` once every session file exists. Each state carries ``n`` and a blob made
from ``n``, so a torn or mixed file is caught even when it happens to parse.
"""

from __future__ import annotations

import asyncio
import sys

from bottender_nb import FileSessionStore


def record(session_id: str, n: int, repeat: int) -> dict:
    return {
        "id": session_id, "platform": "console", "user": {"id": session_id.split(":")[1]},
        "_state": {"n": n, "blob": f"{n:08d}" * repeat}, "lastActivity": 1_700_000_000_000 + n,
    }


async def main(dirname: str, sessions: int, repeat: int) -> None:
    store = await FileSessionStore(dirname).init()
    n = 0
    while True:
        for index in range(sessions):
            await store.write(f"console:{index}", record(f"console:{index}", n, repeat))
        if n == 0:
            print("ready", flush=True)
        n += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
