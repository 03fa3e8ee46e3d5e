"""``train_run``: a training spec in, verified run directories out (DESIGN.md sections 4 and 5).

Steps: load the spec; check the run name; open the dataset with every hash and fingerprint
verified; select the active families' columns by name; apply the protocol (snapshots,
cells, weighting, the validation set: carved from train by query or named snapshot
pairs); tune when the spec has a search; train;
check that ``model.txt``'s own feature names are the recorded ones; evaluate on eval
against the ``base_score`` ordering; decide the gate; write each run directory atomically.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessera_lab.conventions import check_label_gain
from tessera_lab.dataset import Dataset, open_dataset
from tessera_lab.errors import SpecError
from tessera_lab.features import feature_names, select_feature_schema
from tessera_lab.progress import Progress
from tessera_lab.protocol import (
    Cell,
    build_cells,
    cell_dir_suffix,
    check_protocol,
    read_rows,
    training_pairs,
)
from tessera_lab.receipts import recorded_training
from tessera_lab.run_files import RunContext, finish_run
from tessera_lab.runs import (
    RunFiles,
    check_run_name,
    ensure_absent,
    write_runs,
)
from tessera_lab.spec import DaskEngine, Spec, load_spec
from tessera_lab.spec_sections import parse_label_gain

if TYPE_CHECKING:  # LightGBM and optuna load only once the spec and dataset have passed
    from tessera_lab.booster import Fit
    from tessera_lab.distributed import DaskSession
    from tessera_lab.tuning import StudyOptions


def default_run_name(spec_path: Path) -> str:
    """``<spec stem>-<UTC time>-<4 hex>``: unique enough that parallel runs do not collide."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", spec_path.stem).strip("-._") or "run"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stem[:80]}-{stamp}-{os.urandom(2).hex()}"


def cell_run_names(base: str, cells: list[str | None]) -> list[str]:
    """``base`` for a pooled cell (None); ``base--<category>`` per category (made unique)."""
    names: list[str] = []
    for cell in cells:
        if cell is None:
            names.append(base)
            continue
        name = f"{base}--{cell_dir_suffix(cell)}"
        if name in names:
            name += "-" + hashlib.sha256(cell.encode()).hexdigest()[:6]
        names.append(check_run_name(name[:128]))
    return names


def check_gate_metric(spec: Spec, dataset: Dataset, source: str) -> None:
    """The gate metric must be computable on this dataset."""
    metric = spec.gate.metric
    if metric in ("roc_auc", "pr_auc") and dataset.manifest.label_kind != "binary":
        raise SpecError(f"{source}: gate.metric: {metric!r} needs binary labels")
    if metric == "fmax_weighted" and not dataset.manifest.has_weight:
        raise SpecError(f"{source}: gate.metric: 'fmax_weighted' needs a weight column")


@contextmanager
def _engine_session(spec: Spec, source: str) -> Iterator[DaskSession | None]:
    """The Dask session of a ``dask`` engine for the whole run; None for the local engine."""
    if not isinstance(spec.engine, DaskEngine):
        yield None
        return
    from tessera_lab.distributed import dask_session

    with dask_session(spec.engine, spec.num_threads, source) as session:
        yield session


def _fit(
    session: DaskSession | None, cell: Cell, names: list[str], spec: Spec, **options: Any
) -> Fit:
    from tessera_lab.booster import fit_cell

    if session is None:
        return fit_cell(cell, names, spec, **options)
    from tessera_lab.distributed import fit_cell_dask

    options.pop("overrides", None)  # a dask spec has no search (it cannot early-stop)
    options.pop("train_curve", None)
    return fit_cell_dask(session, cell, names, spec, **options)


def _check_names_free(runs_root: Path, base: str, spec: Spec) -> None:
    """Fail early if a run directory this spec would write already exists (per-category
    cells: the name of every category the manifest lists)."""
    if spec.protocol.cells == "pooled":
        ensure_absent(runs_root, [base])
        return
    categories = open_dataset(spec.dataset, verify=False).manifest.categories
    ensure_absent(runs_root, cell_run_names(base, list(categories)))


def _read_cells(
    dataset: Dataset, spec: Spec, names: list[str], source: str, *, smoke: bool
) -> list[Cell]:
    """The rows of every booster: training pairs, validation pairs (when named), eval."""
    train = read_rows(dataset, "train", spec, names, training_pairs(dataset, spec))
    valid = None
    if spec.validation.snapshot_pairs and spec.early_stopping is not None:
        valid = read_rows(dataset, "train", spec, names, list(spec.validation.snapshot_pairs))
    eval_rows = read_rows(dataset, "eval", spec, names)
    labels = {"train": train.label, "eval": eval_rows.label}
    if valid is not None:
        labels["valid"] = valid.label
    check_label_gain(parse_label_gain(spec.params.get("label_gain")), labels, source)
    return build_cells(train, eval_rows, spec, smoke=smoke, where=source, valid=valid)


@recorded_training
def train_run(
    spec_path: str | Path,
    *,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    smoke: bool = False,
    quiet: bool = False,
    study: StudyOptions | None = None,
    retrain: bool = True,
) -> list[Path]:
    """Train the spec and write its run directories; return their paths.

    A spec with a ``search`` is tuned first (skipped under ``smoke``); ``study`` overrides
    the storage, study name or trial count; ``retrain=False`` only runs the search.
    """
    started = time.monotonic()
    path = Path(spec_path)
    source = str(path)
    spec = load_spec(path)
    base = check_run_name(name) if name is not None else default_run_name(path)
    runs_root = Path(runs_dir)
    if retrain:  # before any work (hashing, reading, tuning, training)
        _check_names_free(runs_root, base, spec)
    dataset = open_dataset(spec.dataset, verify=True)
    check_protocol(dataset, spec, source)
    check_gate_metric(spec, dataset, source)
    if isinstance(spec.engine, DaskEngine):
        from tessera_lab.distributed import check_dask_installed

        check_dask_installed(source)
    schema = select_feature_schema(dataset.manifest, spec.feature_families, source)
    names = feature_names(schema)
    cells = _read_cells(dataset, spec, names, source, smoke=smoke)
    run_names = cell_run_names(base, [cell.name for cell in cells])
    if retrain:
        ensure_absent(runs_root, run_names)
    ctx = RunContext(spec, dataset, schema, names, smoke, started)
    progress = Progress(quiet=quiet)
    outputs: list[RunFiles] = []
    with _engine_session(spec, source) as session:
        for run_name, cell in zip(run_names, cells, strict=True):
            outputs.extend(
                _train_cell(ctx, session, run_name, cell, path, runs_root, study, retrain, progress)
            )
    return write_runs(runs_root, outputs) if retrain else []


def _train_cell(
    ctx: RunContext,
    session: DaskSession | None,
    run_name: str,
    cell: Cell,
    path: Path,
    runs_root: Path,
    study: StudyOptions | None,
    retrain: bool,
    progress: Progress,
) -> list[RunFiles]:
    """Tune (when the spec searches) and train one cell; its run files, if retraining."""
    spec, smoke, names = ctx.spec, ctx.smoke, ctx.names
    result = None
    overrides: dict[str, Any] = {}
    if spec.search is not None and not smoke:
        from tessera_lab.tuning import StudyOptions, run_study

        options = study or StudyOptions()
        result = run_study(
            cell, names, spec, options, spec_path=path, runs_dir=runs_root,
            manifest_sha256=ctx.dataset.manifest_sha256, progress=progress,
        )  # fmt: skip
        overrides = dict(result.summary.best_params)
    if not retrain:
        return []
    label = run_name if cell.name is not None else "train"
    fit = _fit(
        session, cell, names, spec, overrides=overrides, smoke=smoke, progress=progress,
        label=label, train_curve=True,
    )  # fmt: skip
    engine = None if session is None else session.record()
    return [finish_run(ctx, run_name, cell, fit, result, engine)]


def tune_run(
    spec_path: str | Path,
    *,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    quiet: bool = False,
    study: StudyOptions | None = None,
    retrain: bool = True,
) -> list[Path]:
    """Run (or join, or resume) the spec's search, then train its best trial (``train_run``).

    A spec without a ``search`` block is refused before any work.
    """
    if load_spec(spec_path).search is None:
        raise SpecError(
            f"{spec_path}: search: the spec has no search block to tune (train it instead, or "
            "add search.space)"
        )
    return train_run(
        spec_path, name=name, runs_dir=runs_dir, quiet=quiet, study=study, retrain=retrain
    )
