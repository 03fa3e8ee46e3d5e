"""``validate_dataset``: recompute everything a manifest claims and check every row.

Unlike ``open_dataset`` (which stops at the first mismatch) this collects all
problems, each naming the file, column and row where it applies. Row checks
stream over row groups reading only the columns they need.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tessera_contracts import (
    ContractError,
    ManifestV1,
    compute_feature_schema_sha,
    compute_schema_sha,
    sha256_file,
)
from tessera_lab.errors import DatasetError

from .checks import Problem, RowChecker, label_rule, one_line
from .columns import (
    LABEL,
    REQUIRED_COLUMNS,
    SPLITS,
    WEIGHT,
    expected_type,
    file_columns,
    read_feature_schema_metadata,
    split_filename,
    type_ok,
)
from .reader import read_manifest
from .writer import MANIFEST_FILE, ROW_GROUP_SIZE

MAX_ROW_PROBLEMS_PER_FILE = 20


def _file_problems(root: Path, manifest: ManifestV1, filename: str) -> list[Problem]:
    """Bytes, sha256, Parquet metadata, columns, types and the carried schema of one file."""
    path = root / filename
    entry = manifest.files[filename]
    if not path.is_file():
        return [Problem("file listed in manifest.json is missing", filename)]
    problems: list[Problem] = []
    size = path.stat().st_size
    if size != entry.bytes:
        problems.append(Problem(f"bytes: manifest says {entry.bytes}, file has {size}", filename))
    digest = sha256_file(path)[0]
    if digest != entry.sha256:
        problems.append(
            Problem(f"sha256: manifest says {entry.sha256}, file has {digest}", filename)
        )
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        return [*problems, Problem(f"not a readable Parquet file: {one_line(exc)}", filename)]
    rows = parquet.metadata.num_rows
    if rows != entry.rows:
        problems.append(Problem(f"rows: manifest says {entry.rows}, file has {rows}", filename))
    if rows == 0:
        problems.append(Problem("the split has no rows", filename))
    schema = parquet.schema_arrow
    duplicated = _duplicated_columns(schema, filename)
    if duplicated:
        return [*problems, *duplicated]  # the checks below look columns up by name
    expected = file_columns(manifest.feature_schema, has_weight=manifest.has_weight)
    for column in expected:
        if column not in schema.names:
            problems.append(Problem("column is missing", filename, column))
        elif not type_ok(column, schema.field(column).type):
            problems.append(
                Problem(
                    f"expected type {expected_type(column)}, found {schema.field(column).type}",
                    filename,
                    column,
                )
            )
    for column in schema.names:
        if column not in expected:
            reason = "has_weight is false" if column == WEIGHT else "not in the manifest"
            problems.append(Problem(f"unexpected column ({reason})", filename, column))
    if [c for c in schema.names if c in expected] != [c for c in expected if c in schema.names]:
        problems.append(Problem(f"columns are not in file order {expected}", filename))
    problems.extend(_schema_problems(schema, manifest, filename))
    return problems


def _duplicated_columns(schema: pa.Schema, filename: str) -> list[Problem]:
    """A column name used more than once (Arrow allows it; the layout does not)."""
    counts = Counter(schema.names)
    return [
        Problem(f"column name appears {counts[name]} times; names must be unique", filename, name)
        for name in sorted(name for name, count in counts.items() if count > 1)
    ]


def _schema_problems(schema: pa.Schema, manifest: ManifestV1, filename: str) -> list[Problem]:
    """The feature schema carried in Arrow metadata, and both fingerprints recomputed from it."""
    try:
        carried = read_feature_schema_metadata(schema, filename)
    except (DatasetError, ContractError) as exc:
        return [Problem(str(exc))]
    problems = []
    if carried != manifest.feature_schema:
        problems.append(
            Problem(
                f"metadata feature schema {carried} differs from manifest's "
                f"{manifest.feature_schema}",
                filename,
            )
        )
    v1, v2 = compute_feature_schema_sha(carried), compute_schema_sha(carried)
    if v1 != manifest.feature_schema_sha:
        problems.append(
            Problem(
                f"feature_schema_sha from metadata is {v1}, manifest says "
                f"{manifest.feature_schema_sha}",
                filename,
            )
        )
    if v2 != manifest.schema_sha:
        problems.append(
            Problem(
                f"schema_sha from metadata is {v2}, manifest says {manifest.schema_sha}", filename
            )
        )
    return problems


def _row_problems(root: Path, manifest: ManifestV1, filename: str) -> list[Problem]:
    """Stream the required columns (and weight) and check every row."""
    try:
        parquet = pq.ParquetFile(root / filename, pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        return [Problem(f"not a readable Parquet file: {one_line(exc)}", filename)]
    wanted = [*REQUIRED_COLUMNS, WEIGHT] if manifest.has_weight else list(REQUIRED_COLUMNS)
    schema = parquet.schema_arrow
    if _duplicated_columns(schema, filename):
        return []  # reported by the file checks; rows cannot be read by column name
    columns = [c for c in wanted if c in schema.names and type_ok(c, schema.field(c).type)]
    checker = RowChecker(filename, manifest.label_kind)
    problems: list[Problem] = []
    truncated = False
    try:
        for batch in parquet.iter_batches(batch_size=ROW_GROUP_SIZE, columns=columns):
            found = checker.check(batch)
            room = MAX_ROW_PROBLEMS_PER_FILE - len(problems)
            truncated = truncated or len(found) > room
            problems.extend(found[: max(room, 0)])
    except (OSError, pa.ArrowException) as exc:
        problems.append(
            Problem(f"cannot read rows after row {checker.rows}: {one_line(exc)}", filename)
        )
    if truncated:
        problems.append(
            Problem(f"more row problems not shown (limit {MAX_ROW_PROBLEMS_PER_FILE})", filename)
        )
    for column, found_values, declared in (
        ("category", checker.categories, manifest.categories),
        ("snapshot_pair", checker.snapshot_pairs, manifest.snapshot_pairs),
    ):
        for value in sorted(found_values - set(declared)):
            problems.append(
                Problem(f"value {value!r} is not declared in the manifest", filename, column)
            )
    return problems


def validate_dataset(path: str | Path) -> list[Problem]:
    """Every problem with the dataset at ``path``; an empty list means it is valid."""
    root = Path(path)
    try:
        manifest, _ = read_manifest(root)
    except DatasetError as exc:
        return [Problem(str(exc))]
    problems: list[Problem] = []
    expected_files = {MANIFEST_FILE, *(split_filename(s) for s in SPLITS)}
    for extra in sorted(p.name for p in root.iterdir() if p.name not in expected_files):
        problems.append(Problem("unexpected file in the dataset directory", extra))
    for split in SPLITS:
        filename = split_filename(split)
        file_problems = _file_problems(root, manifest, filename)
        problems.extend(file_problems)
        if (root / filename).is_file() and not any(
            p.message.startswith("not a readable") for p in file_problems
        ):
            problems.extend(_row_problems(root, manifest, filename))
    return problems


def count_bad_labels(path: str | Path, label_kind: str) -> tuple[int, str] | None:
    """Rows of a split file whose label breaks the label rule, and the rule in words.

    None when the file or its label column cannot be read (other checks report why).
    """
    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)
        bad = 0
        expected = label_rule(np.zeros(0, dtype=np.int64), label_kind)[1]
        for batch in parquet.iter_batches(batch_size=ROW_GROUP_SIZE, columns=[LABEL]):
            labels = np.asarray(batch.column(0).to_numpy(zero_copy_only=False))
            bad += int(np.count_nonzero(label_rule(labels, label_kind)[0]))
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None
    return bad, expected
