"""The lab's error tree.

    LabError (Exception)               base of everything the lab raises on purpose
    ├── SpecError (ValueError)         spec.yaml is malformed, has unknown keys or bad values
    ├── DatasetError (ValueError)      a dataset or input file breaks the layout or the manifest
    └── TrainingError (RuntimeError)   training, evaluation, tuning or writing a run failed

Messages are one line: what was expected, what was found, where (file, field or
column, row), and, when there is one, what fixes it, without naming command-line flags:
``options`` carries the parameters that fix it and the CLI adds its flags for them. The
CLI prints the message and exits 1; ``tessera_contracts.ContractError`` is reported the
same way.
"""

from __future__ import annotations

from typing import Self


class LabError(Exception):
    """Base of the lab's errors.

    ``options`` names the parameters (``drop_unmapped``, ``name``) that fix the problem, so a
    front end can point at its own spelling of them; the message itself names none.
    """

    options: tuple[str, ...] = ()

    def fixed_by(self, *options: str) -> Self:
        """Record the parameters that fix this error; returns the error for ``raise``."""
        self.options = options
        return self


class SpecError(LabError, ValueError):
    """A training spec is malformed, has unknown keys, or holds bad values."""


class DatasetError(LabError, ValueError):
    """A dataset directory, file, column or row breaks the dataset contract."""


class TrainingError(LabError, RuntimeError):
    """Training, evaluation, tuning or writing a run directory failed."""
