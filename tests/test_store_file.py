"""FileSessionStore: Bottender's files, ids that are never paths, atomic writes, cross-process locks."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from bottender_nb import Bot, CorruptSessionError, FileSessionStore
from bottender_nb.stores import file_lock
from bottender_nb.stores.filenames import session_filename
from filelock import lock_descriptor, unlock_descriptor

HELPERS = Path(__file__).parent / "helpers"
REPO = Path(__file__).parent.parent
# A session exactly as Bottender's FileSessionStore (node jfs, JSON.stringify) writes it.
BOTTENDER_FILE = (
    b'{"id":"console:1","platform":"console","user":{"id":"1","name":"you"},'
    b'"_state":{"count":1},"lastActivity":1700000000000}'
)
HI = {"message": {"text": "hi"}}


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session(session_id: str, last_activity: int = 1_700_000_000_000, **state) -> dict:
    platform, _, key = session_id.partition(":")
    return {
        "id": session_id, "platform": platform, "user": {"id": key}, "_state": state,
        "lastActivity": last_activity,
    }


async def count(context):
    current = context.state["count"]
    await asyncio.sleep(0)  # another event of the session would interleave here
    context.set_state({"count": current + 1})


def json_names(dirname: Path) -> list[str]:
    return sorted(path.name for path in dirname.iterdir() if path.name.endswith(".json"))


# -- Bottender's format and names --------------------------------------------------------


async def test_reads_a_session_file_written_by_bottender(tmp_path):
    (tmp_path / "console:1.json").write_bytes(BOTTENDER_FILE)
    assert await FileSessionStore(tmp_path).read("console:1") == json.loads(BOTTENDER_FILE)


async def test_writes_the_file_bottender_would_write(tmp_path):
    await FileSessionStore(tmp_path).write("console:1", json.loads(BOTTENDER_FILE))
    assert json_names(tmp_path) == ["console:1.json"]
    assert (tmp_path / "console:1.json").read_bytes() == BOTTENDER_FILE


async def test_non_ascii_is_written_as_utf8_like_json_stringify(tmp_path):
    await FileSessionStore(tmp_path).write("console:1", session("console:1", name="Zoë 😀"))
    raw = (tmp_path / "console:1.json").read_bytes()
    assert '"name":"Zoë 😀"'.encode() in raw


async def test_a_lone_surrogate_is_written_escaped_like_json_stringify(tmp_path):
    await FileSessionStore(tmp_path).write("console:1", session("console:1", text="\ud83d!"))
    assert b'"text":"\\ud83d!"' in (tmp_path / "console:1.json").read_bytes()


@pytest.mark.parametrize(
    "session_id",
    ["console:1", "whatsapp:whatsapp:+15551234567", "line:U4af4980629a0b1c2d3e4f5a6b7c8d9e0",
     "messenger:1257425491058744", "telegram:-1001234567890", "slack:C0123ABCD",
     "viber:01234567890A="],
)
async def test_plain_ids_keep_bottenders_file_names(tmp_path, session_id):
    store = FileSessionStore(tmp_path)
    await store.write(session_id, session(session_id, count=1))
    assert json_names(tmp_path) == [f"{session_id}.json"]
    assert store.path(session_id) == tmp_path / f"{session_id}.json"


async def test_a_bot_continues_a_bottender_session_and_leaves_a_compact_file(tmp_path):
    (tmp_path / "console:1.json").write_bytes(BOTTENDER_FILE)
    clock = FakeClock(1_700_000_060.0)
    bot = Bot(count, initial_state={"count": 0}, session_store=FileSessionStore(tmp_path), clock=clock)
    await bot.handle_request(HI)
    raw = (tmp_path / "console:1.json").read_bytes()
    stored = json.loads(raw)
    assert stored["_state"] == {"count": 2}
    assert stored["id"] == "console:1" and stored["platform"] == "console"
    assert stored["user"]["id"] == "1" and stored["lastActivity"] == 1_700_000_060_000
    assert raw == json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode()
    assert json_names(tmp_path) == ["console:1.json"]  # lock and temp files are not sessions
    assert [s["id"] for s in await FileSessionStore(tmp_path).all()] == ["console:1"]


def test_on_windows_the_first_colon_becomes_at_as_in_bottender():
    assert session_filename("console:1", windows=True) == "console@1.json"
    assert session_filename("whatsapp:whatsapp:+1555", windows=True) == "whatsapp@whatsapp%3A+1555.json"
    assert session_filename("a@b:c", windows=True) != session_filename("a:b@c", windows=True)


# -- expiry and purge ---------------------------------------------------------------------


async def test_a_bottender_session_older_than_expires_in_reads_as_absent(tmp_path):
    (tmp_path / "console:1.json").write_bytes(BOTTENDER_FILE)
    clock = FakeClock(1_700_000_000.0 + 29 * 60)
    store = FileSessionStore(tmp_path, expires_in=30, clock=clock)
    assert await store.read("console:1") is not None
    clock.now += 2 * 60
    assert await store.read("console:1") is None
    assert await store.all() == []


async def test_a_bot_starts_over_after_expiry_and_replaces_the_file(tmp_path):
    clock = FakeClock()
    store = FileSessionStore(tmp_path, expires_in=30, clock=clock)
    bot = Bot(count, initial_state={"count": 0}, session_store=store, clock=clock)
    await bot.handle_request(HI)
    await bot.handle_request(HI)
    clock.now += 31 * 60
    await bot.handle_request(HI)
    assert json.loads((tmp_path / "console:1.json").read_bytes())["_state"] == {"count": 1}


async def test_purge_expired_deletes_only_expired_session_files(tmp_path):
    clock = FakeClock()
    now_ms = int(clock.now * 1000)
    store = FileSessionStore(tmp_path, expires_in=10, clock=clock)
    await store.write("console:old", session("console:old", now_ms - 11 * 60_000))
    await store.write("console:older", session("console:older", now_ms - 99 * 60_000))
    await store.write("console:fresh", session("console:fresh", now_ms - 9 * 60_000))
    (tmp_path / "console:broken.json").write_bytes(b"{")
    assert await store.purge_expired() == 2
    assert json_names(tmp_path) == ["console:broken.json", "console:fresh.json"]
    assert await FileSessionStore(tmp_path).purge_expired() == 0  # no expires_in: nothing expires


# -- corrupted files ---------------------------------------------------------------------


@pytest.mark.parametrize("content", [b'{"id":"console:1","platform":', b"", b"[1, 2]", b'"text"'])
async def test_a_corrupted_file_is_an_error_naming_it_and_is_left_untouched(tmp_path, content):
    path = tmp_path / "console:1.json"
    path.write_bytes(content)
    store = FileSessionStore(tmp_path)
    with pytest.raises(CorruptSessionError, match="console:1.json"):
        await store.read("console:1")
    with pytest.raises(CorruptSessionError, match="console:1.json"):
        await Bot(count, initial_state={"count": 0}, session_store=store).handle_request(HI)
    with pytest.raises(CorruptSessionError, match="console:1.json"):
        await store.all()
    assert path.read_bytes() == content


# -- the directory -----------------------------------------------------------------------


async def test_init_creates_the_directory_and_a_missing_one_holds_no_sessions(tmp_path):
    dirname = tmp_path / "a" / "b"
    store = FileSessionStore(dirname)
    assert await store.all() == []
    assert await store.read("console:1") is None
    await store.destroy("console:1")
    assert await store.init() is store
    assert dirname.is_dir()


async def test_a_write_creates_a_missing_directory(tmp_path):
    store = FileSessionStore(tmp_path / "sessions")
    await store.write("console:1", session("console:1", count=1))
    assert (await store.read("console:1"))["_state"] == {"count": 1}


async def test_all_ignores_files_that_are_not_sessions(tmp_path):
    store = await FileSessionStore(tmp_path).init()
    await store.write("console:1", session("console:1"))
    (tmp_path / "notes.txt").write_text("not a session")
    (tmp_path / ".123-abc-0.tmp").write_text('{"half')  # a temp file a killed process left
    (tmp_path / "sub.json").mkdir()
    assert [record["id"] for record in await store.all()] == ["console:1"]
    entries = await store.entries()  # what a loader reports: the odd entry too, as an error
    assert [(Path(where).name, type(value)) for where, value in entries] == [
        ("console:1.json", dict), ("sub.json", CorruptSessionError)]


async def test_destroy_deletes_the_file(tmp_path):
    store = FileSessionStore(tmp_path)
    await store.write("console:1", session("console:1"))
    await store.destroy("console:1")
    await store.destroy("console:1")
    assert json_names(tmp_path) == []


@pytest.mark.parametrize(("durable", "expected"), [(False, 0), (True, 2)])
async def test_durable_fsyncs_the_file_and_its_directory(tmp_path, monkeypatch, durable, expected):
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    store = FileSessionStore(tmp_path, durable=durable)
    assert store.durable is durable
    await store.write("console:1", session("console:1", count=1))
    assert len(calls) == expected
    assert (await store.read("console:1"))["_state"] == {"count": 1}


async def test_the_default_is_not_durable():
    assert FileSessionStore().durable is False
    assert FileSessionStore().dirname == Path(".sessions")


# -- ids are never paths -----------------------------------------------------------------

SPECIAL_CHARS = st.sampled_from(list("/\\.\x00:%~@+-_=? *aZ9é€😀\ud800"))
PIECES = SPECIAL_CHARS | st.sampled_from(["..", "../", "%2F", "console:"])
SESSION_IDS = st.one_of(
    st.text(SPECIAL_CHARS, max_size=40),
    st.lists(PIECES, max_size=20).map("".join),
    st.text(max_size=40),
    st.builds(  # long ids, cheaply: a random piece repeated up to 5000 characters
        lambda piece, times: (piece * times)[:5000],
        st.text(SPECIAL_CHARS | st.characters(), min_size=1, max_size=25), st.integers(1, 5000),
    ),
)


def check_ids_stay_inside_and_round_trip(session_ids: list[str]) -> None:
    with tempfile.TemporaryDirectory() as parent:
        dirname = Path(parent) / "sessions"
        dirname.mkdir()
        store = FileSessionStore(dirname)

        async def scenario() -> list[dict]:
            for index, session_id in enumerate(session_ids):
                await store.write(session_id, {"id": session_id, "_state": {"index": index}})
            for index, session_id in enumerate(session_ids):
                assert await store.read(session_id) == {"id": session_id, "_state": {"index": index}}
            return await store.all()

        records = asyncio.run(scenario())
        assert sorted(r["id"] for r in records) == sorted(session_ids)
        for root, dirs, files in os.walk(parent):
            for name in dirs + files:
                path = os.path.join(root, name)
                assert os.path.commonpath([path, dirname]) == str(dirname), path
                assert len(name.encode()) <= 255
        assert len(json_names(dirname)) == len(session_ids)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # explain traces: slow
)
@given(st.lists(SESSION_IDS, min_size=1, max_size=6, unique=True))
@example(["..", "../../etc/passwd", "/abs", "a\x00b", "x" * 5000, "\\..\\win"])
@example(["a/b", "a%2Fb", "a%252Fb", "a~b", "", ".", ".locks", ".json"])
@example(["é" * 2000, "é" * 2001, "x" * 250, "x" * 251, "%" * 100])
def test_any_id_stays_inside_dirname_and_round_trips(session_ids):
    check_ids_stay_inside_and_round_trip(session_ids)


# -- concurrency -------------------------------------------------------------------------


async def test_overlapping_events_of_one_session_lose_no_update(tmp_path):
    store = FileSessionStore(tmp_path)
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    await asyncio.gather(*(bot.handle_request(HI) for _ in range(1000)))
    assert (await store.read("console:1"))["_state"] == {"count": 1000}


async def test_waiting_for_a_busy_lock_does_not_block_the_event_loop(tmp_path):
    holder, waiter = FileSessionStore(tmp_path), FileSessionStore(tmp_path)  # as two processes
    order, ticked = [], asyncio.Event()

    async def ticker():  # other work of the loop: it runs while the waiter waits
        for _ in range(10):
            await asyncio.sleep(0.005)
        ticked.set()

    async def wait_for_lock():
        async with waiter.lock("console:1"):
            order.append("waiter")

    async with holder.lock("console:1"):
        wait_task = asyncio.create_task(wait_for_lock())
        await asyncio.sleep(0)  # the waiter tries the lock and finds it busy
        # A wait that blocked the loop would never let the ticker finish (nor this test).
        await asyncio.wait_for(asyncio.create_task(ticker()), 60)
        assert ticked.is_set() and not wait_task.done()
        order.append("holder done")
    await asyncio.wait_for(wait_task, 60)  # a hang guard only
    assert order == ["holder done", "waiter"]


async def test_a_cancelled_wait_for_the_lock_holds_nothing(tmp_path):
    holder = FileSessionStore(tmp_path)

    async def wait_for_lock():
        async with FileSessionStore(tmp_path).lock("console:1"):
            pass

    async with holder.lock("console:1"):
        task = asyncio.create_task(wait_for_lock())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with FileSessionStore(tmp_path).lock("console:1"):  # free again at once
        pass


def run_helper(*args: object, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, *map(str, args)], env=env, **kwargs)


def test_four_processes_share_one_session_without_losing_an_update(tmp_path):
    dirname, go = tmp_path / "sessions", tmp_path / "go"
    workers = [run_helper(HELPERS / "count_events.py", dirname, 250, go) for _ in range(4)]
    time.sleep(0.5)  # let them all import and wait
    go.touch()
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0, 0]
    state = json.loads((dirname / "console:1.json").read_bytes())["_state"]
    assert state["count"] == 1000
    # They raced: four processes one after another would hand the session over 3 times. No
    # fairness is promised (waiters poll), only that the processes' turns interleaved.
    assert state["handovers"] > 3


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_process_killed_mid_write_leaves_every_session_file_whole(tmp_path):
    sessions, repeat = 5, 25_000  # 200 KB of state each
    rng = random.Random(2)
    for _ in range(20):
        storm = run_helper(
            HELPERS / "write_storm.py", tmp_path, sessions, repeat, stdout=subprocess.PIPE, text=True
        )
        assert storm.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.05))
        storm.send_signal(signal.SIGKILL)
        storm.wait(timeout=10)
        storm.stdout.close()
        assert json_names(tmp_path) == [f"console:{n}.json" for n in range(sessions)]
        for n in range(sessions):
            stored = json.loads((tmp_path / f"console:{n}.json").read_bytes())
            state = stored["_state"]
            assert stored["id"] == f"console:{n}"
            assert state["blob"] == f"{state['n']:08d}" * repeat
    records = asyncio.run(FileSessionStore(tmp_path).all())
    assert sorted(record["id"] for record in records) == [f"console:{n}" for n in range(sessions)]


def _hold_session_lock(store: FileSessionStore, held, release) -> None:
    async def hold() -> None:
        async with store.lock("console:1"):
            held.set()
            release.wait(10)

    asyncio.run(hold())


async def test_a_forked_child_takes_turns_with_its_parent_on_a_session_lock(tmp_path):
    import multiprocessing

    store = await FileSessionStore(tmp_path).init()
    async with store.lock("console:1"):
        pass
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    child = context.Process(target=_hold_session_lock, args=(store, held, release))
    child.start()
    try:
        assert held.wait(60)
        assert not lock_is_free(tmp_path)  # the child's lock is held against the parent too
    finally:
        release.set()
        child.join(60)
    assert lock_is_free(tmp_path)
    async with asyncio.timeout(60):  # a hang guard only
        async with store.lock("console:1"):
            pass


def lock_is_free(dirname: Path, session_id: str = "console:1") -> bool:
    """What another process sees: can it lock the session's lock file right now?"""
    fd = os.open(dirname / ".locks" / (session_filename(session_id)[:-5] + ".lock"), os.O_RDWR)
    try:
        if not lock_descriptor(fd, blocking=False):
            return False
        unlock_descriptor(fd)
        return True
    finally:
        os.close(fd)


async def test_two_stores_of_one_process_alternate_on_a_session_without_losing_counts(tmp_path):
    first, second = FileSessionStore(tmp_path), FileSessionStore(tmp_path)  # as two processes
    bots = [Bot(count, initial_state={"count": 0}, session_store=store) for store in (first, second)]
    for _ in range(50):
        for bot in bots:
            await bot.handle_request(HI)
    assert (await first.read("console:1"))["_state"] == {"count": 100}
    assert (await second.read("console:1"))["_state"] == {"count": 100}


async def test_a_write_between_events_is_read_by_the_next_event(tmp_path):
    store = await FileSessionStore(tmp_path).init()
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    await bot.handle_request(HI)
    await store.write("console:1", session("console:1", count=41))  # a notebook's own write
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 42}
    await store.destroy("console:1")
    await bot.handle_request(HI)
    assert (await store.read("console:1"))["_state"] == {"count": 1}


async def test_say_inside_a_running_loop_lets_the_lock_go_before_it_returns(tmp_path):
    bot = Bot(count, initial_state={"count": 0}, session_store=FileSessionStore(tmp_path))
    bot.say("hi")  # nested in this test's running loop, as in a Jupyter cell
    assert lock_is_free(tmp_path)

    async def fail(context):
        await context.send_text("about to fail")
        raise RuntimeError("the action failed")

    bot.action = fail
    with pytest.raises(RuntimeError, match="the action failed"):
        bot.say("hi")
    assert lock_is_free(tmp_path)  # an action that raised lets it go as well


async def test_purge_expired_removes_temp_files_of_writes_that_died(tmp_path):
    store = FileSessionStore(tmp_path)
    await store.write("console:1", session("console:1", 1))
    stale = tmp_path / ".4242-deadbeef-7.tmp"  # what a writer killed mid-write leaves
    stale.write_bytes(b'{"id":"console:1","plat')
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    in_flight = tmp_path / ".4243-cafe0123-0.tmp"  # a write happening right now: left alone
    in_flight.write_bytes(b"{")
    assert await store.purge_expired() == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        ".4243-cafe0123-0.tmp", "console:1.json"]
    assert await store.read("console:1") == session("console:1", 1)


# -- odd entries: refused within a bounded time, left untouched ---------------------------------


def _plant_fifo(path: Path) -> None:
    os.mkfifo(path)


def _plant_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _plant_directory(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("kept")


@pytest.mark.timeout(20)  # a read that blocks on the FIFO would hang here, failing the test
@pytest.mark.parametrize(
    "plant, kind",
    [(_plant_fifo, "FIFO"), (_plant_dev_zero, "device"), (_plant_directory, "directory")],
    ids=["fifo", "dev-zero-symlink", "directory"],
)
async def test_a_session_entry_that_is_not_a_regular_file_is_refused_at_once(tmp_path, plant, kind):
    path = tmp_path / "console:1.json"
    plant(path)
    before = os.lstat(path)
    store = await FileSessionStore(tmp_path).init()
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    # Refused, not opened: opening a FIFO with no writer would block for good, so the error
    # itself shows that nothing waited.
    with pytest.raises(CorruptSessionError, match=f"console:1.json is .*{kind}"):
        await store.read("console:1")
    with pytest.raises(CorruptSessionError, match="console:1.json"):
        await bot.handle_request(HI)
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_mtime_ns) == (
        before.st_mode, before.st_ino, before.st_mtime_ns)
    [(where, error)] = await store.entries()
    assert where.endswith("console:1.json") and isinstance(error, CorruptSessionError)


async def test_a_file_larger_than_any_session_is_refused_without_reading_it_all(tmp_path, monkeypatch):
    from bottender_nb.stores import file_io as file_module

    monkeypatch.setattr(file_module, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "console:1.json"
    content = b'{"id":"console:1","_state":{"blob":"' + b"x" * 2000 + b'"}}'
    path.write_bytes(content)
    store = FileSessionStore(tmp_path)
    with pytest.raises(CorruptSessionError, match="console:1.json is larger than 1000 bytes"):
        await store.read("console:1")
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    "content",
    [
        b'{"id":"console:1","_state":[1,2],"lastActivity":1700000000000}',
        b'{"id":"console:1","_state":null,"lastActivity":1700000000000}',
        b'{"id":"console:1","_state":{},"lastActivity":"2023-11-14"}',
        b'{"id":"console:1","_state":{"count":NaN},"lastActivity":1700000000000}',
        b'{"id":"console:1","_state":{"count":-Infinity},"lastActivity":1700000000000}',
        b'{"id":"console:1","_state":{"big":123456789012345678901234,"x":Infinity}}',
    ],
    ids=["state-pair", "state-null", "last-activity-string", "nan", "minus-infinity",
         "infinity-on-the-long-number-path"],
)
async def test_a_file_that_is_not_a_record_is_refused_and_never_rewritten(tmp_path, content):
    path = tmp_path / "console:1.json"
    path.write_bytes(content)
    store = FileSessionStore(tmp_path)
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    for _ in range(2):
        with pytest.raises(CorruptSessionError, match="console:1.json"):
            await bot.handle_request(HI)
    assert path.read_bytes() == content


# -- disk errors: a StoreError naming the file and the cause, nothing half-written -------------


def _failing(real, error: int, when=lambda *args: True):
    def call(*args, **kwargs):
        if when(*args):
            raise OSError(error, os.strerror(error))
        return real(*args, **kwargs)

    return call


@pytest.mark.parametrize("history", [0, 1000], ids=["no-history", "history"])
@pytest.mark.parametrize(
    "name, error, cause",
    [("write", 28, "No space left on device"), ("replace", 28, "No space left on device"),
     ("open", 30, "Read-only file system")],
    ids=["disk-full-on-write", "disk-full-on-rename", "read-only-directory"],
)
async def test_a_failed_write_names_the_file_and_the_cause_and_keeps_the_old_file(
    tmp_path, monkeypatch, name, error, cause, history
):
    """Tests run as root, where chmod stops no write: the OS error is injected instead.

    With a history, the turn is kept first: a full disk may stop it there, naming that file.
    """
    from bottender_nb import StoreError

    store = await FileSessionStore(tmp_path).init()
    bot = Bot(count, initial_state={"count": 0}, session_store=store, history=history)
    await bot.handle_request(HI)
    path = tmp_path / "console:1.json"
    before = path.read_bytes()
    is_temp_open = lambda target, flags, *rest: str(target).endswith((".tmp", ".jsonl"))  # noqa: E731
    monkeypatch.setattr(os, name, _failing(getattr(os, name), error,
                                           is_temp_open if name == "open" else lambda *a: True))
    with pytest.raises(StoreError, match=f"console:1.jsonl? \\({cause}"):
        await bot.handle_request(HI)
    monkeypatch.undo()
    assert path.read_bytes() == before
    kept = [".history"] if history else []
    assert sorted(p.name for p in tmp_path.iterdir()) == [*kept, ".locks", "console:1.json"]
    await bot.handle_request(HI)
    assert json.loads(path.read_bytes())["_state"] == {"count": 2}


# -- cancel and fork ----------------------------------------------------------------------------


async def test_an_event_cancelled_while_another_process_holds_the_lock_leaves_it_free(
    tmp_path, monkeypatch
):
    store = await FileSessionStore(tmp_path).init()
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    other = FileSessionStore(tmp_path)  # another process's view of the directory
    tries = []
    real_try = file_lock.lock_descriptor

    def counted_try(fd, blocking=True):
        tries.append(blocking)
        return real_try(fd, blocking=blocking)

    monkeypatch.setattr(file_lock, "lock_descriptor", counted_try)
    async with other.lock("console:1"):
        tries.clear()
        event = asyncio.create_task(bot.handle_request(HI))
        async def busy_twice():  # it found the lock busy and waits to try again
            while len(tries) < 2:
                await asyncio.sleep(0.001)

        await asyncio.wait_for(busy_twice(), 60)
        assert tries[:2] == [False, False]  # tries that do not block the loop
        event.cancel()  # cancelled while acquiring the file lock
        with pytest.raises(asyncio.CancelledError):
            await event
    assert lock_is_free(tmp_path) and len(store.locks) == 0
    await asyncio.wait_for(bot.handle_request(HI), 60)  # a hang guard only
    assert (await store.read("console:1"))["_state"] == {"count": 1}


def _send(bot: Bot, n: int) -> None:
    async def events() -> None:
        for _ in range(n):
            await bot.handle_request(HI)

    asyncio.run(events())


@pytest.mark.timeout(120)
def test_a_store_used_before_fork_is_shared_by_parent_and_child_without_loss(tmp_path):
    store = FileSessionStore(tmp_path)
    bot = Bot(count, initial_state={"count": 0}, session_store=store)
    _send(bot, 1)  # used first: its state (and any cached descriptor) predates the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: 300 events, then report any error through the pipe
        os.close(read)
        code, message = 0, b""
        try:
            _send(bot, 300)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            code, message = 1, repr(exc).encode()
        os.write(write, message)
        os._exit(code)
    os.close(write)
    try:
        _send(bot, 300)
    finally:
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read, "rb") as pipe:
            child_error = pipe.read().decode()
    assert os.waitstatus_to_exitcode(status) == 0, child_error
    stored = json.loads((tmp_path / "console:1.json").read_bytes())
    assert stored["_state"] == {"count": 601}


@pytest.mark.parametrize("durable", [False, True])
async def test_a_durable_event_fsyncs_its_turn_before_it_returns(tmp_path, monkeypatch, durable):
    """Returned means stored: with durable=True the turn reaches the disk, not only the session."""
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                 real_fsync(fd)))
    store = FileSessionStore(tmp_path, durable=durable)
    bot = Bot(lambda context: context.set_state({"count": 1}), session_store=store)
    await bot.handle_request({"message": {"text": "hi"}})
    history = store.history.path("console:1")
    expected = {history, os.path.dirname(history)} if durable else set()
    assert expected <= set(synced) and (durable or not synced)
    assert [turn["state"] for turn in await store.history.read("console:1")] == [{"count": 1}]
