"""Checks shared by the lab's CLI test modules (a plain module: conftest is not importable)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def rewrite_split(dataset: Path, split: str, table: pa.Table) -> None:
    """Replace a split file and update the manifest so hashes match (content is still bad)."""
    path = dataset / f"{split}.parquet"
    pq.write_table(table, path)
    data = path.read_bytes()
    manifest_path = dataset / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["files"][path.name] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": table.num_rows,
        "bytes": len(data),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")


def assert_failed_cleanly(
    result: subprocess.CompletedProcess[str], runs: Path, *needles: str
) -> str:
    """Exit 1, one stderr line naming each needle, no run directory."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tessera-lab: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not runs.exists(), sorted(p.name for p in runs.rglob("*"))
    return lines[0]
