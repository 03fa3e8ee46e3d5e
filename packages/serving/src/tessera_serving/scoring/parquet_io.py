"""Parquet in, Parquet out: stream one input file through the guarded scorer.

Reads with ``ParquetFile.iter_batches`` (only the columns scoring needs, ``pre_buffer``
off: see PERF-NOTES), writes with ``ParquetWriter`` to a temporary name in the output's
directory and renames it into place only when every row is written, so memory is bounded by
the batch size and a failed job leaves no output file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tessera_serving.errors import ScoringError
from tessera_serving.registry.yaml_io import read_schema_file
from tessera_serving.scoring import events as ev
from tessera_serving.scoring import guard
from tessera_serving.scoring.output_file import atomic_parquet_writer, check_output_path
from tessera_serving.scoring.scorer import ScoreStats, ScoringModel, prepare

DEFAULT_BATCH_SIZE = 65_536
BatchCallback = Callable[[pa.RecordBatch, int], None]


def read_feature_schema_file(path: Path) -> dict[str, list[str]]:
    """A feature-schema override file: JSON or YAML mapping family -> list of column names."""
    return read_schema_file(path, ScoringError)


def open_parquet(path: Path) -> pq.ParquetFile:
    """Open ``path`` for streaming, with a one-line error if it is not a readable Parquet file."""
    try:
        return pq.ParquetFile(path, pre_buffer=False)
    except FileNotFoundError as exc:
        raise ScoringError(f"input {path}: no such file") from exc
    except (OSError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0]
        raise ScoringError(f"input {path}: not a readable Parquet file: {first}") from exc


def iter_input(
    parquet: pq.ParquetFile, columns: list[str], batch_size: int
) -> Iterator[pa.RecordBatch]:
    """The input's record batches (only ``columns``), with read errors as one line."""
    try:
        yield from parquet.iter_batches(batch_size=batch_size, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0]
        raise ScoringError(f"input: reading failed: {first}") from exc


@dataclass(frozen=True)
class FileResult:
    """What scoring one file produced."""

    rows: int
    stats: ScoreStats
    live_sha: str | None


def score_file(
    model: ScoringModel,
    input_path: Path,
    output_path: Path | None,
    *,
    feature_schema: guard.FeatureSchema | None = None,
    require_stage: str | None = None,
    events: ev.EventSink | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: BatchCallback | None = None,
    on_complete: Callable[[FileResult], None] | None = None,
) -> FileResult:
    """Score a Parquet file into ``output_path`` (None: only ``on_batch``, e.g. re-scoring).

    ``on_batch(batch, first_row)`` sees every output batch with the input row index of its
    first row; it runs after the batch is written and before the next one is read.
    ``on_complete(result)`` runs once every row is scored and the output file is in place;
    if it raises, the output file is removed again (a failed job leaves no output).
    """
    if batch_size < 1:
        raise ScoringError(f"batch size must be an integer >= 1, got {batch_size}")
    if output_path is not None:
        check_output_path(output_path, input_path)
    parquet = open_parquet(input_path)
    plan = prepare(
        model,
        parquet.schema_arrow,
        feature_schema,
        require_stage=require_stage,
        events=events,
        source=f"input {input_path}",
    )
    batches = plan.score(iter_input(parquet, plan.columns, batch_size))
    offset = 0

    def consume(write: Callable[[pa.RecordBatch], None] | None) -> None:
        nonlocal offset
        for batch in batches:
            if write is not None:
                write(batch)
            if on_batch is not None:
                on_batch(batch, offset)
            offset += batch.num_rows
        if offset != parquet.metadata.num_rows:  # the core never drops rows; prove it
            raise ScoringError(
                f"input {input_path}: scored {offset} rows but the file has "
                f"{parquet.metadata.num_rows}; no output was written"
            )

    if output_path is None:
        consume(None)
    else:
        with atomic_parquet_writer(output_path, plan.schema) as writer:
            consume(writer.write_batch)
    result = FileResult(offset, plan.stats, plan.live_sha)
    _complete(result, on_complete, output_path)
    return result


def _complete(
    result: FileResult,
    on_complete: Callable[[FileResult], None] | None,
    output_path: Path | None,
) -> None:
    """Run ``on_complete``; if it raises, remove the output file again."""
    if on_complete is not None:
        try:
            on_complete(result)
        except BaseException:
            if output_path is not None:
                output_path.unlink(missing_ok=True)
            raise
