"""Reading an export back: the Parquet files ``export_turns`` / ``export_sessions`` write.

Apart from the exports (which read the stores through ``turns``), so ``turns_frame(path)`` and
``sessions_frame(path)`` can read a file without an import cycle.
"""

from __future__ import annotations

import os

import orjson
import pandas as pd

from ..errors import missing_extra

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as exc:  # pragma: no cover - the analytics extra brings it
    raise missing_extra("pyarrow", "analytics") from exc

JSON_COLUMNS = "bottender_nb.json_columns"
"""Parquet metadata key: the columns stored as JSON text."""


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """An exported file (or a directory of them) as the frame it came from."""
    table = pq.read_table(os.fspath(path))
    metadata = table.schema.metadata or {}
    json_columns = orjson.loads(metadata.get(JSON_COLUMNS.encode(), b"[]"))
    frame = table.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=float("nan")),
                                          pa.string(): pd.StringDtype("pyarrow", na_value=float("nan"))}.get)
    for name in json_columns:
        frame[name] = [None if value is None or value != value else orjson.loads(value) for value in frame[name]]
    return frame
