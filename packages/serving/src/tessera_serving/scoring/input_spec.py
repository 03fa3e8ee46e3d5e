"""What a score input names: one Parquet file, or partitions (a directory, a glob, a URL).

Apart from the partitioned machinery so that scoring one file never imports it (fsspec,
the process pool, the partition tables).
"""

from __future__ import annotations

from pathlib import Path

GLOB_CHARS = "*?["


def is_partitioned_input(spec: str) -> bool:
    """A directory, a glob or a URL names partitions; a plain file path does not."""
    return "://" in spec or any(c in spec for c in GLOB_CHARS) or Path(spec).is_dir()
