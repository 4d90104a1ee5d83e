"""Issue 23: the analytics on every engine Narwhals speaks, and exports to Parquet from every store.

The same hand-built turns (``analytics_turns.py``, answers worked out by hand) go to pandas,
Polars (eager and lazy), DuckDB, PyArrow and Dask on a ``distributed.LocalCluster`` with real
worker processes; every function's answer on each must equal pandas'. Exports run from a
file store's directory, a redis-server and a 3-master Redis Cluster, and are read back by
DuckDB, Polars and ``turns_frame``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import dask.dataframe as dd
import duckdb
import narwhals.stable.v2 as nw
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from analytics_turns import ROWS, hand_built
from bottender_nb import (FileSessionStore, RedisSessionStore, drop_off, export_sessions, export_turns, funnel,
                          retention, sessions_frame, transitions, turns_frame)
from bottender_nb.analysis.retention import retention_table

FLOW = [("name", {"step": "asked_name"}), ("city", {"step": "asked_city"}), ("done", {"step": "done"})]
CALLS = {
    "funnel": lambda turns: funnel(turns, FLOW),
    "funnel (expression step)": lambda turns: funnel(turns, [("3+", nw.col("state.count") >= 3)]),
    "funnel (nine steps)": lambda turns: funnel(turns, [*FLOW, ("any", {}), *FLOW, ("count 4", {"count": 4}), *FLOW[1:]]),
    "retention": lambda turns: retention(turns),
    "retention (W)": lambda turns: retention(turns, "W"),
    "transitions": lambda turns: transitions(turns, "step"),
    "transitions (stays)": lambda turns: transitions(turns, "profile.city", stays=True),
    "drop_off": lambda turns: drop_off(turns, "step", "1h"),
}


@pytest.fixture(scope="module")
def dask_client():
    """Two worker processes (not threads in this one): the work is pickled and shipped."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


OWN_CONNECTION = duckdb.connect()  # not DuckDB's default one: SQL run on that one cannot see it


def engines(turns: pd.DataFrame) -> dict[str, Any]:
    table = pa.Table.from_pandas(turns, preserve_index=False)
    return {
        "polars": pl.from_arrow(table),
        "polars lazy": pl.from_arrow(table).lazy(),
        "duckdb": duckdb.from_arrow(table),
        "duckdb (own connection)": OWN_CONNECTION.from_arrow(table),  # as duckdb.connect(path) gives
        "pyarrow": table,
        "dask": dd.from_pandas(turns, npartitions=3),
    }


def as_pandas(result: Any, name: str) -> pd.DataFrame:
    """A result of any engine, as a pandas frame comparable with pandas' own answer."""
    frame = nw.from_native(result)
    frame = (frame.collect() if isinstance(frame, nw.LazyFrame) else frame).to_pandas()
    if name.startswith("retention"):
        return retention_table(frame, "W" if "(W)" in name else "D")
    return frame


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
                  else value for value in row) for row in frame.itertuples(index=False)]


@pytest.mark.timeout(120)  # a Dask graph that deadlocks the in-process scheduler fails here, not at 300 s
@pytest.mark.parametrize("name", CALLS)
def test_every_engine_gives_pandas_answer(name, dask_client):
    turns = hand_built()
    expected = CALLS[name](turns)
    for engine, native in engines(turns).items():
        result = CALLS[name](native)
        kind = type(native)
        assert isinstance(result, kind), f"{name} on {engine} returned {type(result).__name__}"
        got = as_pandas(result, name)
        if name.startswith("retention"):
            pd.testing.assert_frame_equal(got, expected, check_exact=False)
        else:
            assert list(got.columns) == list(expected.columns), engine
            assert rows(got) == pytest.approx(rows(expected)), engine


def test_known_answers_on_duckdb_and_dask(dask_client):
    turns = hand_built()
    for native in (duckdb.from_arrow(pa.Table.from_pandas(turns)), dd.from_pandas(turns, npartitions=2)):
        assert as_pandas(funnel(native, FLOW), "funnel")["sessions"].tolist() == [6, 4, 2]
        got = as_pandas(retention(native), "retention")
        assert got.iloc[0].tolist() == pytest.approx([1.0, 0.5, 0.5])  # D0: a and b; a came back D1, D2
        moved = rows(as_pandas(transitions(native, "step"), "transitions"))
        assert moved[0] == ("asked_name", "asked_city", 4, pytest.approx(0.8))


def test_a_function_step_needs_eager_turns():
    lazy = pl.from_pandas(hand_built().drop(columns=["replies", "changed"])).lazy()
    with pytest.raises(Exception, match="needs the turns in memory"):
        funnel(lazy, [("3+", lambda state: state["count"] >= 3)])


# -- exports ---------------------------------------------------------------------------


async def fill(store: Any) -> None:
    """The hand-built turns and one session record per session, through the store."""
    await store.init()
    for number, (session_id, turn, day, clock, kind, step, count, city) in enumerate(ROWS):
        state = {"step": step, "count": count, "profile": {"city": city}}
        await store.history.append(session_id, {
            "session_id": session_id, "platform": session_id.partition(":")[0],
            "time": 1767600000 + day * 86400 + number * 60, "kind": kind, "text": f"m{turn}",
            "replies": [f"r{turn}", {"type": "image"}], "changed": ["step"], "state": state,
            "state_before": {}, "event": {}}, 100)
        await store.write(session_id, {"id": session_id, "platform": session_id.partition(":")[0],
                                       "_state": state, "lastActivity": 1767600000000 + number})


def check_export(source: Any, tmp_path) -> None:
    """Every turn and session once, the frames' columns, read back by DuckDB, Polars, turns_frame."""
    turns_path, sessions_path = tmp_path / "turns.parquet", tmp_path / "sessions.parquet"
    export_turns(source, turns_path)
    export_sessions(source, sessions_path)
    direct = turns_frame(source)
    back = turns_frame(turns_path)
    assert list(back.columns) == list(direct.columns)
    assert sorted(zip(back["session_id"], back["turn"])) == sorted((s, t) for s, t, *_ in ROWS)
    assert back.sort_values(["session_id", "turn"])["replies"].tolist()[0] == ["r0", {"type": "image"}]
    pairs = duckdb.sql(f"select session_id, turn from '{turns_path}'").fetchall()
    assert sorted(pairs) == sorted((s, t) for s, t, *_ in ROWS)
    assert pl.scan_parquet(turns_path).select(pl.len()).collect().item() == len(ROWS)
    assert list(pl.read_parquet(turns_path).columns) == list(direct.columns)
    assert funnel(duckdb.sql(f"select * from '{turns_path}'"), FLOW).fetchall() == \
        [tuple(row) for row in funnel(direct, FLOW).itertuples(index=False)]
    sessions = sessions_frame(sessions_path)
    assert list(sessions.columns) == list(sessions_frame(source).columns)
    assert sorted(sessions["id"]) == sorted({row[0] for row in ROWS})


def test_export_from_a_file_store_directory(tmp_path):
    asyncio.run(fill(FileSessionStore(tmp_path / "sessions")))
    check_export(str(tmp_path / "sessions"), tmp_path)


def test_an_export_of_many_turns_holds_about_batch_size_turns_per_row_group(tmp_path):
    """Turns read a few at a time still go out in row groups of about ``batch_size``."""
    store = FileSessionStore(tmp_path / "sessions")
    turns = [{"session_id": f"console:{n % 3}", "index": None, "time": 1767600000 + n, "kind": "event",
              "platform": "console", "text": f"m{n}", "replies": ["ok"], "changed": [],
              "state": {"n": n}, "state_before": {}, "event": {}} for n in range(36)]
    for turn in turns:
        asyncio.run(store.history.append(turn["session_id"], turn, 100))
    path = export_turns(store, tmp_path / "turns.parquet", batch_size=10)
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(number).num_rows for number in range(metadata.num_row_groups)]
    assert sum(sizes) == 36 and len(sizes) >= 2 and max(sizes) < 20, sizes
    assert sorted(turns_frame(path)["text"]) == sorted(turn["text"] for turn in turns)


def test_export_from_redis(redis_server, tmp_path):
    redis_server.command("FLUSHALL")
    store = RedisSessionStore(port=redis_server.port, prefix="export:")
    asyncio.run(fill(store))
    check_export(store, tmp_path)


def test_export_from_every_primary_of_a_redis_cluster(redis_cluster, tmp_path):
    redis_cluster.flush()
    store = RedisSessionStore(port=redis_cluster.port, cluster=True)
    asyncio.run(fill(store))
    holding = [int(node.command("DBSIZE")) for node in redis_cluster.nodes]
    assert all(holding), f"the sessions should spread over the three primaries, got {holding}"
    check_export(store, tmp_path)
