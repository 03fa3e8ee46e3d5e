"""Write run directories atomically (DESIGN.md section 5).

A run directory is assembled in a temporary directory beside its final place, every file
and the directory fsynced, then renamed into place. An existing run is never overwritten.
Several directories (one per category cell) appear together or not at all.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tessera_contracts import ContractError, RunRecord, check_name, load_run_record
from tessera_lab.errors import TrainingError

CONTRACT_FILES = ("run.json", "spec.yaml", "model.txt")
REPORT_DIR = "report"
HISTORY_FILE = "history.json"
"""``report/history.json``: the validation learning curve recorded during training."""
STUDY_FILE = "study.json"
"""``report/study.json``: every trial of the study behind a tuned run."""
ENGINE_FILE = "engine.json"
"""``report/engine.json``: the Dask engine a run trained on (workers, partitions, versions)."""


@dataclass(frozen=True)
class RunFiles:
    """The files of one run directory: the three contract files and ``report/`` extras."""

    name: str
    files: Mapping[str, str | bytes]
    report: Mapping[str, str | bytes] = field(default_factory=dict)


def check_run_name(name: str) -> str:
    """Run names are file-system and contract safe (the contracts' name rule)."""
    try:
        return check_name(name, "run name")
    except ContractError as exc:
        raise TrainingError(str(exc)) from exc


def ensure_absent(runs_dir: Path, names: Sequence[str]) -> None:
    """Fail before any work if a run directory of that name already exists."""
    for name in names:
        check_run_name(name)
        target = runs_dir / name
        if target.exists() or target.is_symlink():
            raise TrainingError(
                f"{target}: run directory already exists; runs are never overwritten "
                "(choose another run name or remove it)"
            ).fixed_by("name")


def _write(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new, uniquely named directory with the mode ``mkdir`` gives under the user's umask
    (``tempfile.mkdtemp`` would make it 0700, and the rename would keep that)."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def _stage(runs_dir: Path, run: RunFiles) -> Path:
    missing = [f for f in CONTRACT_FILES if f not in run.files]
    if missing:
        raise TrainingError(f"run {run.name!r}: contract files missing: {missing}")
    staging = _fresh_dir(runs_dir, f".tmp-{run.name}-")
    try:
        for filename, content in run.files.items():
            _write(staging / filename, content)
        for filename, content in run.report.items():
            _write(staging / REPORT_DIR / filename, content)
        if run.report:
            _fsync_dir(staging / REPORT_DIR)
        _fsync_dir(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def write_runs(runs_dir: str | Path, runs: Sequence[RunFiles]) -> list[Path]:
    """Write every run directory, all or none; return their final paths."""
    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    ensure_absent(root, [run.name for run in runs])
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for run in runs:
            staged.append((_stage(root, run), root / run.name))
        for staging, final in staged:
            if final.exists():  # appeared while we were training
                ensure_absent(root, [final.name])
            staging.rename(final)
            placed.append(final)
        _fsync_dir(root)
    except BaseException:
        for final in placed:
            shutil.rmtree(final, ignore_errors=True)
        for staging, _ in staged:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return placed


def run_set(path: str | Path) -> list[Path]:
    """``[path]`` for a run directory; for ``runs/<name>`` of a per-category spec (which
    wrote ``runs/<name>--<category>``), its cells' run directories, sorted."""
    root = Path(path)
    if (root / "run.json").is_file():
        return [root]
    cells = sorted(p for p in root.parent.glob(f"{root.name}--*") if (p / "run.json").is_file())
    if not cells:
        raise TrainingError(
            f"{root}: no run.json and no per-category runs {root.name}--<category> beside it "
            "(expected a run directory or the run name of a per_category spec)"
        )
    return cells


def load_run(run_dir: str | Path) -> RunRecord:
    """A run directory's ``run.json``, validated by the contract."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise TrainingError(f"{path}: no run.json (is {run_dir} a run directory?)")
    try:
        return load_run_record(path)
    except ContractError as exc:
        raise TrainingError(str(exc)) from exc
