"""Turns and sessions as Parquet, for engines that hold more than memory (DuckDB, Polars, Dask).

``export_turns(source, path)`` and ``export_sessions(source, path)`` read any source the
frames read (a ``Bot``, a store, a file store's directory, Redis, a Redis Cluster) through the
store's batches (:mod:`.sources`), frame each batch as ``turns_frame`` / ``sessions_frame``
would, and write it as one Parquet row group: memory holds one batch, whatever the store holds.
A batch's state fields are only known once it is read, so each goes to a part file first; the
parts are then copied into ``path`` under the union of their columns (a field a batch lacks is
null there; one whose kinds disagree across batches is kept as text). Lists and objects (the
``replies``, a state field holding a list) are stored as their JSON text, which
``turns_frame(path)`` parses back.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import Any

import orjson
import pandas as pd

from ..errors import missing_extra
from .columns import SessionTable
from .parquet import JSON_COLUMNS
from .sources import Progress, session_batches, store_of
from .turns import READ_BATCH, TurnTable, turn_source, warn_skipped

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise missing_extra("pyarrow", "analytics") from exc

BATCH = 10_000
"""About this many turns (or sessions) per row group: a batch is all the export holds in memory."""


def export_turns(source: Any, path: str | os.PathLike[str], *, progress: bool | None = None,
                 batch_size: int = BATCH) -> str:
    """Write every kept turn of ``source`` to the Parquet file ``path``, the columns of
    ``turns_frame``; a batch at a time, with a progress bar. Returns the path."""
    batches, where = turn_source(source, "export_turns", min(batch_size, READ_BATCH))  # see READ_BATCH
    errors: list[tuple[str, str]] = []

    def frames() -> Iterable[pd.DataFrame]:
        table = TurnTable(keep_states=False)
        for batch in batches:
            table.add(batch)
            if len(table) >= batch_size:
                errors.extend(table.errors)
                yield table.frame()
                table = TurnTable(keep_states=False)
        if len(table) or table.errors:
            errors.extend(table.errors)
            yield table.frame()

    written = _write(frames(), path, Progress(progress, "Exporting turns", " turns"))
    warn_skipped(errors, "export_turns", "entries that are not valid turns", where)
    return written


def export_sessions(source: Any, path: str | os.PathLike[str], *, progress: bool | None = None,
                    batch_size: int = 1000) -> str:
    """Write every stored session of ``source`` (expired ones too) to the Parquet file
    ``path``, the columns of ``sessions_frame``; a batch at a time. Returns the path."""
    store, where = store_of(source, "export_sessions")
    errors: list[tuple[str, str]] = []

    def frames() -> Iterable[pd.DataFrame]:
        batches = [[(f"item {index}", item) for index, item in enumerate(source)]] if store is None \
            else session_batches(store, batch_size)
        for batch in batches:
            table = SessionTable()
            for name, item in batch:
                table.errors.append((name, str(item))) if isinstance(item, BaseException) else table.add(item, name)
            errors.extend(table.errors)
            yield table.frame()

    written = _write(frames(), path, Progress(progress, "Exporting sessions"))
    warn_skipped(errors, "export_sessions", "entries that are not valid sessions", where)
    return written


def _write(frames: Iterable[pd.DataFrame], path: str | os.PathLike[str], bar: Progress) -> str:
    """Each frame to a part file, then all parts into ``path`` under one schema."""
    path = os.fspath(path)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as parts, bar:
        names, schemas = [], []
        for frame in frames:
            if frame.empty and names:
                continue
            table = _arrow(frame)
            names.append(os.path.join(parts, f"{len(names):06d}.parquet"))
            pq.write_table(table, names[-1])
            schemas.append(table.schema)
            bar.update(len(frame))
        schema = _union(schemas)
        with pq.ParquetWriter(path, schema) as writer:
            for name in names:
                writer.write_table(_conform(pq.read_table(name), schema))
    return path


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """One batch as Arrow; lists, objects and mixed columns as their JSON text."""
    arrays, fields, json_columns = [], [], []
    for name in frame.columns:
        values = frame[name]
        try:
            array = pa.array(values, from_pandas=True) if values.dtype != object else None
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = None
        if array is None and not _plain_text(values):
            array = pa.array([None if value is None else orjson.dumps(value).decode() for value in values],
                             type=pa.large_string())
            json_columns.append(name)
        elif array is None:
            array = pa.array(values, from_pandas=True, type=pa.large_string())
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    schema = pa.schema(fields, metadata={JSON_COLUMNS: orjson.dumps(json_columns)})
    return pa.Table.from_arrays(arrays, schema=schema)


def _plain_text(values: pd.Series) -> bool:
    return all(value is None or isinstance(value, str) for value in values)


def _union(schemas: list[pa.Schema]) -> pa.Schema:
    """Every column of every batch, in first-seen order; disagreeing kinds become text."""
    types: dict[str, pa.DataType] = {}
    json_columns: set[str] = set()
    for schema in schemas:
        json_columns.update(orjson.loads(schema.metadata[JSON_COLUMNS.encode()]))
        for field in schema:
            known = types.setdefault(field.name, field.type)
            if known != field.type and not pa.types.is_null(field.type):
                types[field.name] = field.type if pa.types.is_null(known) else _common(known, field.type)
    metadata = {JSON_COLUMNS: orjson.dumps(sorted(json_columns))}
    return pa.schema([pa.field(name, kind) for name, kind in types.items()], metadata=metadata)


def _common(first: pa.DataType, second: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(first) and pa.types.is_floating(second) or \
            pa.types.is_floating(first) and pa.types.is_integer(second):
        return pa.float64()
    return pa.large_string()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with every column of ``schema``, of its type (missing ones null)."""
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(len(table), field.type))
            continue
        column = table.column(field.name)
        if column.type != field.type:
            column = column.cast(field.type) if not pa.types.is_large_string(field.type) else \
                pa.array([None if value is None else str(value) for value in column.to_pylist()], pa.large_string())
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)
