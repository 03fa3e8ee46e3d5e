"""Tessera lab: datasets, training specs, LightGBM re-rankers, evaluation, tuning, run directories.

This module is the lab's public surface: every name in ``__all__`` is what a user (and the
``tessera-lab`` CLI) calls. Names load on first use (PEP 562), so ``import tessera_lab``
stays cheap and the CLI's ``--help`` loads neither numpy, pyarrow nor LightGBM. Errors are
documented in ``tessera_lab.errors``; process-wide settings are applied only by
:func:`configure`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

__version__ = _version("tessera-lab")

if TYPE_CHECKING:
    from tessera_lab._process import configure
    from tessera_lab.dataset.checks import Problem
    from tessera_lab.dataset.families import load_family_mapping
    from tessera_lab.dataset.importers import detect_format, import_dataset
    from tessera_lab.dataset.reader import Dataset, open_dataset
    from tessera_lab.dataset.synth import synth_dataset
    from tessera_lab.dataset.tabular import ColumnMap
    from tessera_lab.dataset.validate import validate_dataset
    from tessera_lab.dataset.validfile import DEFAULT_VALID_PAIR, ValidInput
    from tessera_lab.dataset.writer import write_dataset
    from tessera_lab.describe import describe_validation
    from tessera_lab.errors import DatasetError, LabError, SpecError, TrainingError
    from tessera_lab.evaluation import compare, ranking_metrics
    from tessera_lab.progress import Progress
    from tessera_lab.receipts import run_receipts_dir
    from tessera_lab.report import metrics_table, report_run
    from tessera_lab.runs import load_run, run_set
    from tessera_lab.spec import Spec, TrainingProtocol, load_spec, parse_spec
    from tessera_lab.training import train_run, tune_run
    from tessera_lab.tuning import StudyOptions

# Public name -> the module that defines it. Kept in step with the TYPE_CHECKING block and
# ``__all__`` by tests/test_public_api.py.
_EXPORTS: dict[str, str] = {
    "run_set": "tessera_lab.runs",
    "describe_validation": "tessera_lab.describe",
    "DEFAULT_VALID_PAIR": "tessera_lab.dataset.validfile",
    "ValidInput": "tessera_lab.dataset.validfile",
    "ColumnMap": "tessera_lab.dataset.tabular",
    "Dataset": "tessera_lab.dataset.reader",
    "DatasetError": "tessera_lab.errors",
    "LabError": "tessera_lab.errors",
    "Problem": "tessera_lab.dataset.checks",
    "Progress": "tessera_lab.progress",
    "Spec": "tessera_lab.spec",
    "SpecError": "tessera_lab.errors",
    "StudyOptions": "tessera_lab.tuning",
    "TrainingError": "tessera_lab.errors",
    "TrainingProtocol": "tessera_lab.spec",
    "compare": "tessera_lab.evaluation",
    "configure": "tessera_lab._process",
    "detect_format": "tessera_lab.dataset.importers",
    "import_dataset": "tessera_lab.dataset.importers",
    "load_family_mapping": "tessera_lab.dataset.families",
    "load_run": "tessera_lab.runs",
    "load_spec": "tessera_lab.spec",
    "metrics_table": "tessera_lab.report",
    "open_dataset": "tessera_lab.dataset.reader",
    "parse_spec": "tessera_lab.spec",
    "ranking_metrics": "tessera_lab.evaluation",
    "report_run": "tessera_lab.report",
    "run_receipts_dir": "tessera_lab.receipts",
    "synth_dataset": "tessera_lab.dataset.synth",
    "train_run": "tessera_lab.training",
    "tune_run": "tessera_lab.training",
    "validate_dataset": "tessera_lab.dataset.validate",
    "write_dataset": "tessera_lab.dataset.writer",
}

__all__ = [
    "DEFAULT_VALID_PAIR",
    "ColumnMap",
    "Dataset",
    "DatasetError",
    "LabError",
    "Problem",
    "Progress",
    "Spec",
    "SpecError",
    "StudyOptions",
    "TrainingError",
    "TrainingProtocol",
    "ValidInput",
    "__version__",
    "compare",
    "configure",
    "describe_validation",
    "detect_format",
    "import_dataset",
    "load_family_mapping",
    "load_run",
    "load_spec",
    "metrics_table",
    "open_dataset",
    "parse_spec",
    "ranking_metrics",
    "report_run",
    "run_receipts_dir",
    "run_set",
    "synth_dataset",
    "train_run",
    "tune_run",
    "validate_dataset",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access, then keep it here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tessera_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
