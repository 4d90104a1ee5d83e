"""Per-session ordering: FIFO, no leak of idle sessions, cancellation passes the turn on."""

from __future__ import annotations

import asyncio

from bottender_nb.stores.locks import SessionLocks


async def test_waiters_run_in_arrival_order_and_nothing_is_kept_afterwards():
    locks, order = SessionLocks(), []

    async def event(i):
        async with locks.hold("s"):
            order.append(("start", i))
            await asyncio.sleep(0)
            order.append(("end", i))

    await asyncio.gather(*(event(i) for i in range(20)))
    assert order == [(kind, i) for i in range(20) for kind in ("start", "end")]
    assert len(locks) == 0


async def test_a_cancelled_waiter_does_not_block_the_session():
    locks, ran = SessionLocks(), []
    release = asyncio.Event()

    async def first():
        async with locks.hold("s"):
            await release.wait()
            ran.append("first")

    async def other(name):
        async with locks.hold("s"):
            ran.append(name)

    tasks = [asyncio.create_task(first()), asyncio.create_task(other("cancelled")),
             asyncio.create_task(other("third"))]
    await asyncio.sleep(0)
    tasks[1].cancel()
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert ran == ["first", "third"]
    assert len(locks) == 0


async def test_a_waiter_cancelled_just_as_its_turn_comes_hands_the_turn_on():
    locks, ran = SessionLocks(), []

    async def holder():
        async with locks.hold("s"):
            await asyncio.sleep(0)

    async def other(name):
        async with locks.hold("s"):
            ran.append(name)

    first = asyncio.create_task(holder())
    second = asyncio.create_task(other("second"))
    third = asyncio.create_task(other("third"))
    await asyncio.sleep(0)  # holder holds, the others wait
    await asyncio.sleep(0)  # holder releases: second's future is resolved, not yet resumed
    second.cancel()
    await asyncio.gather(first, second, third, return_exceptions=True)
    assert ran == ["third"]
    assert len(locks) == 0


async def test_sessions_do_not_wait_for_each_other():
    locks, order = SessionLocks(), []
    a_held, release_a = asyncio.Event(), asyncio.Event()

    async def blocker():
        async with locks.hold("a"):
            a_held.set()
            await release_a.wait()  # "a" is held until "b" has run
            order.append("a released")

    async def other():
        async with locks.hold("b"):
            order.append("b ran")
        release_a.set()

    task = asyncio.create_task(blocker())
    await a_held.wait()
    b_task = asyncio.create_task(other())
    for _ in range(5):  # a few turns of the loop: "b" needs one, a wait for "a" would need all
        await asyncio.sleep(0)
    assert b_task.done(), "session b waited for session a"
    await task
    assert order == ["b ran", "a released"]
    assert len(locks) == 0


async def test_a_waiter_cancelled_while_the_holder_releases_leaves_cleanly():
    """The release drops the cancelled turn before the waiter's task runs its cleanup."""
    locks = SessionLocks()
    tasks: dict[str, asyncio.Task] = {}

    async def holder():
        async with locks.hold("s"):
            await asyncio.sleep(0)  # the waiter queues up behind us
            tasks["waiter"].cancel()  # cancelled, and in the same step we release

    async def waiter():
        async with locks.hold("s"):
            pass

    tasks["holder"] = asyncio.create_task(holder())
    tasks["waiter"] = asyncio.create_task(waiter())
    results = await asyncio.gather(*tasks.values(), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], asyncio.CancelledError)
    assert len(locks) == 0
    async with locks.hold("s"):
        pass


def test_a_forked_child_starts_with_every_session_idle():
    """A child runs none of its parent's events, so it must not wait for their turns."""
    import os

    locks = SessionLocks()
    assert locks.try_enter("s")  # the parent is in the middle of an event of "s"
    pid = os.fork()
    if pid == 0:
        os._exit(0 if locks.try_enter("s") and len(locks) == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not locks.try_enter("s")  # the parent's own event still holds it
    locks.leave("s")
