"""Output files that appear whole or not at all, in a place that cannot hurt the input.

A job writes to ``.<name>.tmp-<host>-<pid>`` beside the output, fsyncs it and renames it into
place only when every row is written.
Temporaries left by dead processes on this host are removed before a new one is made. The
output may be neither the input file nor a directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tessera_serving.errors import ScoringError
from tessera_serving.scoring.liveness import pid_alive, this_host
from tessera_serving.testhooks import pause_point

_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?:(?P<host>.+)-)?(?P<pid>\d+)$")


def check_output_path(output: Path, input_path: Path | None = None) -> None:
    """Refuse an output that is a directory, lives in no directory, or is the input."""
    if output.is_dir():
        raise ScoringError(f"output {output} is a directory; expected a Parquet file path")
    if not output.parent.is_dir():
        raise ScoringError(f"output {output}: directory {output.parent} does not exist")
    if input_path is None:
        return
    same = output.absolute() == input_path.absolute() or (
        output.exists() and input_path.exists() and output.samefile(input_path)
    )
    if same:
        raise ScoringError(f"output {output} is the input file; write the scores to another path")


def tmp_name(path: Path) -> Path:
    """This process's temporary sibling of ``path``."""
    return path.with_name(f".{path.name}.tmp-{this_host()}-{os.getpid()}")


def clean_stale_temporaries(path: Path) -> list[Path]:
    """Remove temporaries of ``path`` whose writer (on this host) is dead; return them."""
    removed = []
    host = this_host()
    for candidate in path.parent.glob(f".{path.name}.tmp-*"):
        match = _TMP.match(candidate.name)
        if match is None or match["name"] != path.name:
            continue
        if match["host"] not in (None, host) or pid_alive(int(match["pid"])):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


@contextmanager
def atomic_parquet_writer(path: Path, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A ``ParquetWriter`` on a temporary sibling of ``path``, renamed into place on success."""
    check_output_path(path)
    clean_stale_temporaries(path)
    tmp = tmp_name(path)
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            yield writer
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        pause_point("score.output.before_rename")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
