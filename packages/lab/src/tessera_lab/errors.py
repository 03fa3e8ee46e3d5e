"""The lab's error tree.

    LabError (Exception)               base of everything the lab raises on purpose
    ├── SpecError (ValueError)         spec.yaml is malformed, has unknown keys or bad values
    ├── DatasetError (ValueError)      a dataset or input file breaks the layout or the manifest
    └── TrainingError (RuntimeError)   training, evaluation, tuning or writing a run failed

Messages are one line: what was expected, what was found, where (file, field or
column, row), and, when there is one, the command that fixes it. The CLI prints
the message and exits 1; ``tessera_contracts.ContractError`` is reported the same way.
"""

from __future__ import annotations


class LabError(Exception):
    """Base of the lab's errors."""


class SpecError(LabError, ValueError):
    """A training spec is malformed, has unknown keys, or holds bad values."""


class DatasetError(LabError, ValueError):
    """A dataset directory, file, column or row breaks the dataset contract."""


class TrainingError(LabError, RuntimeError):
    """Training, evaluation, tuning or writing a run directory failed."""
