"""The turn analytics on turns_frame of real sources: a file store's directory (Bottender's
format, history beside it), a Redis server and a Redis cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bottender_nb import (
    Bot, FileSessionStore, drop_off, funnel, retention, transitions, turns_frame,
)
from bottender_nb.session.sync import run_sync
from bottender_nb.stores.redis import RedisSessionStore

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


async def ask_name_then_city(context: Any) -> None:
    step = context.state["step"]
    if step == "name":
        context.set_state(step="city", name=context.event.text)
        await context.send_text("Which city?")
    elif step == "city":
        context.set_state(step="done", city=context.event.text)
        await context.send_text("Thanks!")
    else:
        await context.send_text("All set.")


async def chat(store: Any) -> Bot:
    """Users 1-4 give a name on day 0; 1 and 2 give a city; 1 comes back on day 1."""
    now = [T0]
    bot = Bot(ask_name_then_city, initial_state={"step": "name"}, session_store=store,
              clock=lambda: now[0])
    for user, texts in {"1": ["Ada", "Paris"], "2": ["Bo", "Rome"], "3": ["Cy"], "4": ["Di"]}.items():
        for text in texts:
            await bot.handle_request({"message": {"text": text}, "sender": {"id": user}},
                                     "messenger")
    now[0] = T0 + 86_400
    await bot.handle_request({"message": {"text": "again"}, "sender": {"id": "1"}}, "messenger")
    return bot


def check(turns: Any) -> None:
    assert sorted(turns["session_id"].unique()) == [f"messenger:{n}" for n in range(1, 5)]
    steps = [("asked city", {"step": "city"}), ("done", {"step": "done"})]
    assert funnel(turns, steps)["sessions"].tolist() == [4, 2]  # all named; 1 and 2 gave a city
    flows = transitions(turns, "step")  # changes between a session's consecutive turns
    counts = {(row["from"], row["to"]): row["count"] for _, row in flows.iterrows()}
    assert counts == {("city", "done"): 2}
    assert retention(turns).iloc[0].tolist() == [1.0, 0.25]  # one of four came back on day 1
    ended = drop_off(turns, "step", idle="1h")  # 2, 3, 4 went quiet on day 0
    assert dict(zip(ended["step"], ended["sessions"])) == {"city": 2, "done": 1}


def test_on_a_file_store_directory(tmp_path):
    asyncio.run(chat(FileSessionStore(tmp_path)))
    check(turns_frame(str(tmp_path)))


@pytest.mark.parametrize("kind", ["redis", "redis-cluster"])
def test_on_a_redis_store(request, kind):
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        server.command("FLUSHALL")
        store = RedisSessionStore(port=server.port)
    else:
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        store = RedisSessionStore(port=cluster.port, cluster=True)
    bot = run_sync(chat(store))  # the loop turns_frame uses too: the store's client is bound to it
    check(turns_frame(store))
    check(turns_frame(bot))
    run_sync(store.close())
