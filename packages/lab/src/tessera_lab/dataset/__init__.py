"""Datasets in the contract layout (DESIGN.md section 3): write, open, synthesise, import, validate.

A dataset is a directory with ``train.parquet``, ``eval.parquet`` and ``manifest.json``.
"""

from .checks import Problem
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
from .reader import Dataset, open_dataset
from .synth import synth_dataset
from .writer import MANIFEST_FILE, ROW_GROUP_SIZE, sha256_file, write_dataset

__all__ = [
    "BASE_SCORE",
    "CANDIDATE_ID",
    "CATEGORY",
    "LABEL",
    "LABEL_KINDS",
    "MANIFEST_FILE",
    "QUERY_ID",
    "REQUIRED_COLUMNS",
    "ROW_GROUP_SIZE",
    "SNAPSHOT_PAIR",
    "SPLITS",
    "WEIGHT",
    "Dataset",
    "Problem",
    "open_dataset",
    "sha256_file",
    "synth_dataset",
    "write_dataset",
]
