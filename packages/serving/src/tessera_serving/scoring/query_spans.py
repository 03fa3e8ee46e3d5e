"""Queries whose rows sit in several partitions, found before any partition is scored.

A partitioned job ranks each partition on its own, so a query split across two partitions
would get two rank sequences, silently. The coordinator checks every partition of the job
(those committed by an earlier run too, so a rerun that completes only the missing ones
checks the same) before it dispatches any: first each footer's ``query_id`` min/max, where
partitions whose ranges overlap no other cannot share a query; then, for the partitions whose
ranges overlap (or that have no usable statistics), their distinct ids, one column read,
intersected exactly. Footer ranges are trusted for integer ids only: string statistics may
be truncated or, from old writers, compared with the wrong byte order.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tessera_serving.scoring.queries import plain_array
from tessera_serving.scoring.scorer import QUERY_ID

ALLOW_FLAG = "--allow-split-queries"
SURVEY_THREADS = 4


@dataclass
class SplitQueries:
    """The queries found in more than one partition: how many, and the first one."""

    count: int = 0
    query: Any = None
    partitions: tuple[str, str] = ("", "")

    def message(self) -> str:
        """The one-line error for a job that does not allow split queries."""
        first, second = self.partitions
        more = f" (and {self.count - 1} more)" if self.count > 1 else ""
        return (
            f"input: query {self.query!r} has rows in two partitions, {first} and {second}"
            f"{more}; ranks are computed per partition, so put each query's rows in one "
            f"partition (e.g. partition by query_id), or pass {ALLOW_FLAG} to rank it "
            "within each partition"
        )


def _open(partition: str) -> pq.ParquetFile:
    if "://" not in partition:
        return pq.ParquetFile(partition, pre_buffer=False)
    import fsspec

    fs, path = fsspec.core.url_to_fs(partition)
    return pq.ParquetFile(fs.open(path, "rb"), pre_buffer=False)


def _footer_range(parquet: pq.ParquetFile) -> tuple[int, int] | None:
    """The ``query_id`` min/max from the footer: integer ids with statistics only."""
    arrow_field = parquet.schema_arrow.field(QUERY_ID)
    if not pa.types.is_integer(arrow_field.type):
        return None
    index = parquet.schema_arrow.get_field_index(QUERY_ID)
    meta = parquet.metadata
    lows, highs = [], []
    for group in range(meta.num_row_groups):
        if meta.row_group(group).num_rows == 0:
            continue
        stats = meta.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max or stats.min is None or stats.max is None:
            return None
        lows.append(int(stats.min))
        highs.append(int(stats.max))
    return (min(lows), max(highs)) if lows else None


def _survey_one(partition: str) -> tuple[tuple[int, int] | None, bool]:
    """(footer range or None, readable): an unreadable file or one without ``query_id`` is
    left to its worker, which reports it as that partition's error."""
    try:
        parquet = _open(partition)
        if parquet.schema_arrow.get_field_index(QUERY_ID) < 0:
            return None, False
        return _footer_range(parquet), True
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return None, False


def _distinct(partition: str) -> pa.Array[Any] | None:
    try:
        column = _open(partition).read(columns=[QUERY_ID]).column(QUERY_ID)
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return None
    ids = pc.unique(plain_array(column.combine_chunks())).drop_null()  # nulls: the worker's error
    if pa.types.is_integer(ids.type):  # int32 5 and int64 5 are one query
        return ids.cast(pa.int64(), safe=False)
    if pa.types.is_large_string(ids.type):
        return ids.cast(pa.string())
    return ids


def _overlapping(ranges: dict[int, tuple[int, int]]) -> set[int]:
    """The partitions whose footer range overlaps another's (a sweep over sorted ranges)."""
    out: set[int] = set()
    order = sorted(ranges, key=lambda i: ranges[i])
    reach, holder = None, -1
    for i in order:
        low, high = ranges[i]
        if reach is not None and low <= reach:
            out.update((i, holder))
        if reach is None or high > reach:
            reach, holder = high, i
    return out


def _shared(ids: dict[int, pa.Array[Any]], partitions: Sequence[str], found: SplitQueries) -> None:
    """Exact intersection of the distinct ids of ``ids``' partitions, per id type."""
    by_type: dict[str, list[int]] = {}
    for i, array in ids.items():
        by_type.setdefault(str(array.type), []).append(i)
    for members in by_type.values():
        arrays = [ids[i] for i in members]
        owner = np.repeat(np.array(members, dtype=np.int64), [len(a) for a in arrays])
        table = pa.table({"q": pa.chunked_array(arrays), "p": pa.array(owner)})
        grouped = table.group_by("q").aggregate([("p", "min"), ("p", "max")])
        split = grouped.filter(pc.not_equal(grouped["p_min"], grouped["p_max"]))
        if split.num_rows == 0:
            continue
        first = split.sort_by([("p_min", "ascending"), ("p_max", "ascending")]).slice(0, 1)
        if found.count == 0:
            found.query = first["q"][0].as_py()
            pair = (int(first["p_min"][0].as_py()), int(first["p_max"][0].as_py()))
            found.partitions = (partitions[pair[0]], partitions[pair[1]])
        found.count += split.num_rows


def find_split_queries(partitions: Sequence[str]) -> SplitQueries:
    """Every query id found in more than one of ``partitions`` (module docstring)."""
    found = SplitQueries()
    with ThreadPoolExecutor(max_workers=SURVEY_THREADS) as pool:
        surveyed = list(pool.map(_survey_one, partitions))
        ranges = {i: r for i, (r, ok) in enumerate(surveyed) if ok and r is not None}
        readable = [i for i, (_, ok) in enumerate(surveyed) if ok]
        # a partition without usable statistics may share a query with any other
        exact = readable if len(ranges) < len(readable) else sorted(_overlapping(ranges))
        if len(exact) < 2:
            return found
        arrays = pool.map(_distinct, [partitions[i] for i in exact])
        distinct = dict(zip(exact, arrays, strict=True))
    _shared({i: a for i, a in distinct.items() if a is not None}, partitions, found)
    return found
