"""Datasets in the contract layout (DESIGN.md section 3): write, open, synthesise, import, validate.

A dataset is a directory with ``train.parquet``, ``eval.parquet`` and ``manifest.json``.
Split files hold the required columns (``REQUIRED_COLUMNS``: int64/string ids, int64
label, string category and snapshot pair, float64 base score), the optional float64
``weight``, then the float32/float64 feature columns family by family (families in
sorted order, columns as the feature schema lists them), zstd-compressed in row
groups of ``ROW_GROUP_SIZE`` rows, with the feature schema as JSON in the Arrow
metadata key ``tessera.feature_schema``. Rows are numbered from 0 in error messages.

- ``write_dataset``: stream tables/batches in, check every row, appear atomically.
- ``open_dataset``: load the manifest, verify files, read or stream splits.
- ``synth_dataset``: a seeded, realistic re-ranking dataset of any size.
- ``import_dataset``: LibSVM/LETOR or dense text (LightGBM's numbering: LibSVM index
  ``i`` -> ``f{i}``), Parquet/CSV/TSV with named columns; without a base-score column
  the base score is ``-(position in query)``, i.e. the baseline is the input order.
- ``validate_dataset``: every problem, with file, column and row.
"""

from .checks import MAX_GRADE, Problem, label_rule
from .columns import (
    BASE_SCORE,
    CANDIDATE_ID,
    CATEGORY,
    LABEL,
    LABEL_KINDS,
    QUERY_ID,
    REQUIRED_COLUMNS,
    SNAPSHOT_PAIR,
    SPLITS,
    WEIGHT,
)
from .families import DEFAULT_FAMILY, load_family_mapping
from .importers import import_dataset
from .reader import Dataset, open_dataset
from .synth import synth_dataset
from .table_import import import_table
from .tabular import ColumnMap
from .text_import import import_text
from .validate import validate_dataset
from .writer import MANIFEST_FILE, ROW_GROUP_SIZE, write_dataset

__all__ = [
    "BASE_SCORE",
    "CANDIDATE_ID",
    "CATEGORY",
    "DEFAULT_FAMILY",
    "LABEL",
    "LABEL_KINDS",
    "MANIFEST_FILE",
    "MAX_GRADE",
    "QUERY_ID",
    "REQUIRED_COLUMNS",
    "ROW_GROUP_SIZE",
    "SNAPSHOT_PAIR",
    "SPLITS",
    "WEIGHT",
    "ColumnMap",
    "Dataset",
    "Problem",
    "import_dataset",
    "import_table",
    "import_text",
    "label_rule",
    "load_family_mapping",
    "open_dataset",
    "synth_dataset",
    "validate_dataset",
    "write_dataset",
]
