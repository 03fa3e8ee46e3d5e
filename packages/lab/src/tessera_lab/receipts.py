"""The lab's receipts (DESIGN.md section 7): dataset validation, training, evaluation, tuning.

``recorded_training`` wraps ``train_run``: before training it records a dataset-validation
receipt (every split hashed, rows from the Parquet metadata, compared with the manifest),
then a training receipt around the real work, then evaluation and tuning receipts derived
from the run directories written (evaluation and tuning run inside training, so those two
receipts check and account for what training recorded rather than time it). All of them
share one run id and go to ``runs/<name>/report/receipts/`` of every run directory written,
and to ``$TESSERA_RECEIPTS_DIR/<pipeline>/<run_id>/`` when set.

Hashed content never includes wall-clock fields or locations: the manifest and ``run.json``
are recorded as their content without ``created_at`` / ``duration_s`` (and the run's own
name), specs as their content without the ``dataset`` path.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

from tessera_contracts import ContractError, FileRef, Receipt, parse_json, run_record_content
from tessera_contracts.receipts import ReceiptRecorder, resolve_run_id, write_receipt
from tessera_lab import __version__
from tessera_lab.errors import LabError
from tessera_lab.provenance import PRODUCER_NAME
from tessera_lab.yaml_files import load_yaml_file

RECEIPTS_SUBDIR = Path("report") / "receipts"
DATASET_SPLITS = ("train.parquet", "eval.parquet")
# Wall-clock fields and provenance (who wrote the file: the receipt itself records the
# code's git commit and version) are not content; run.json's rule is the contract's.
_MANIFEST_VOLATILE = ("created_at", "producer")
P = ParamSpec("P")


def run_receipts_dir(run_dir: str | Path) -> Path:
    """Where a run directory keeps its receipts: ``<run>/report/receipts``."""
    return Path(run_dir) / RECEIPTS_SUBDIR


def lab_recorder(
    stage: str, run_id: str, *, unit: str = "rows", root: Path | None = None
) -> ReceiptRecorder:
    """A recorder with the lab as producer and this checkout's git commit."""
    return ReceiptRecorder(
        stage=stage,
        producer=(PRODUCER_NAME, __version__),
        run_id=run_id,
        code_dir=Path(__file__).resolve().parent,
        root=root,
        unit=unit,
    )


def parquet_rows(path: Path) -> int | None:
    """Row count from the Parquet footer (no data read); None when unreadable."""
    import pyarrow as pa  # imported here: the receipts CLI commands do not need it
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException):
        return None


def _json_content(path: Path, volatile: tuple[str, ...]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ContractError(f"{path}: cannot read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ContractError(f"{path}: expected a JSON object")
    return {k: v for k, v in data.items() if k not in volatile}


def record_dataset_validation(dataset_dir: Path, run_id: str) -> tuple[Receipt, list[FileRef]]:
    """Hash every split, count its rows, compare with the manifest; return the receipt and refs.

    Never raises for a bad dataset: the problems are the receipt's errors, and training
    (which verifies the dataset itself) fails on its own terms right after.
    """
    from tessera_contracts import ManifestV1

    rec = lab_recorder("dataset_validation", run_id)
    refs: list[FileRef] = []
    with rec:
        manifest_path = dataset_dir / "manifest.json"
        try:
            manifest: ManifestV1 | None = parse_json(
                ManifestV1, manifest_path.read_bytes(), str(manifest_path)
            )
            refs.append(
                rec.add_input_data(
                    "dataset/manifest.json#content",
                    _json_content(manifest_path, _MANIFEST_VOLATILE),
                )
            )
        except (OSError, ContractError) as exc:
            rec.error(type(exc).__name__, f"{manifest_path}: {exc}")
            manifest = None
        for split in DATASET_SPLITS:
            path = dataset_dir / split
            if not path.is_file():
                rec.error("MissingFile", f"{path}: file listed in the contract is missing")
                continue
            rows = parquet_rows(path)
            ref = rec.add_input(path, name=f"dataset/{split}", records=rows)
            refs.append(ref)
            entry = manifest.files.get(split) if manifest else None
            # An unreadable file has no footer to count: its declared rows are rejected.
            n = rows if rows is not None else (entry.rows if entry is not None else 0)
            problems = _split_problems(ref, entry, rows)
            for message in problems:
                rec.error("ManifestMismatch", f"{path}: {message}")
            bad = 0 if problems or manifest is None else _bad_labels(rec, path, manifest)
            rejected = n if problems else bad
            rec.count(records_in=n, accepted=n - rejected, rejected=rejected)
    assert rec.receipt is not None
    return rec.receipt, refs


def _bad_labels(rec: ReceiptRecorder, path: Path, manifest: Any) -> int:
    """Rows breaking the dataset's label rule (the rule ``validate`` and training apply)."""
    from tessera_lab.dataset.validate import count_bad_labels

    found = count_bad_labels(path, manifest.label_kind)
    if found is None or found[0] == 0:
        return 0
    rec.error("LabelOutOfRange", f"{path}: column 'label': {found[0]} rows, expected {found[1]}")
    return found[0]


def _split_problems(ref: FileRef, entry: Any, rows: int | None) -> list[str]:
    if entry is None:
        return ["not listed in manifest.json"]
    problems = []
    if rows is None:
        problems.append("not a readable Parquet file")
    elif rows != entry.rows:
        problems.append(f"rows: manifest says {entry.rows}, file has {rows}")
    if ref.bytes != entry.bytes:
        problems.append(f"bytes: manifest says {entry.bytes}, file has {ref.bytes}")
    if ref.sha256 != entry.sha256:
        problems.append(f"sha256: manifest says {entry.sha256}, file has {ref.sha256}")
    return problems


def _spec_content(path: Path) -> dict[str, Any] | None:
    """A spec's content without ``dataset``: a location (the dataset's files are inputs)."""
    from tessera_lab.errors import SpecError

    try:
        data = load_yaml_file(path, what="spec", error=SpecError)
    except SpecError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v for k, v in data.items() if k != "dataset"}


def _cell_key(record: dict[str, Any]) -> str:
    cell = record.get("cell")
    return "pooled" if cell is None else f"cell={cell}"


def _record_outputs(rec: ReceiptRecorder, run_dirs: list[Path]) -> list[dict[str, Any]]:
    records = []
    for run_dir in run_dirs:
        record = run_record_content(_json_content(run_dir / "run.json", ()))
        key = _cell_key(record)
        rec.add_output(run_dir / "model.txt", name=f"{key}/model.txt")
        rec.add_output_data(f"{key}/spec.yaml#content", _spec_content(run_dir / "spec.yaml"))
        rec.add_output_data(f"{key}/run.json#content", record)
        records.append(record)
    return records


def _record_evaluation(run_id: str, run_dirs: list[Path], dataset: list[FileRef]) -> Receipt:
    rec = lab_recorder("evaluation", run_id)
    with rec:
        for ref in dataset:
            if ref.path.endswith("eval.parquet"):
                rec.add_input_ref(ref)
        for run_dir in run_dirs:
            record = _json_content(run_dir / "run.json", ())
            key = _cell_key(record)
            model = rec.add_input(run_dir / "model.txt", name=f"{key}/model.txt")
            if model.sha256 != record["model"]["sha256"]:
                rec.error("ModelHashMismatch", f"{run_dir}/run.json: model.sha256 != model.txt")
            rec.add_output_data(
                f"{key}/metrics", {"metrics": record["metrics"], "gate": record["gate"]}
            )
            rows = int(record["dataset"]["eval_rows"])
            rec.count(records_in=rows, accepted=rows)
            gate = record["gate"]
            if gate["verdict"] != "PROMOTE":
                rec.warn(
                    f"{key}: gate {gate['verdict']}: {gate['metric']} lift {gate['lift']:.6g} "
                    f"< min_lift {gate['min_lift']:.6g}"
                )
    assert rec.receipt is not None
    return rec.receipt


def _record_tuning(run_id: str, run_dirs: list[Path]) -> Receipt | None:
    studies = []
    for run_dir in run_dirs:
        record = _json_content(run_dir / "run.json", ())
        if record.get("tuning") is not None:
            studies.append((run_dir, _cell_key(record), record["tuning"]))
    if not studies:
        return None
    rec = lab_recorder("tuning", run_id, unit="trials")
    with rec:
        for run_dir, key, study in studies:
            rec.add_input_data(f"{key}/spec.yaml#content", _spec_content(run_dir / "spec.yaml"))
            summary = {k: v for k, v in study.items() if k != "storage"}
            rec.add_output_data(f"{key}/study", summary)
            complete, pruned = int(study["n_complete"]), int(study["n_pruned"])
            total = int(study["n_trials"])
            rec.count(
                records_in=total,
                accepted=complete,
                skipped=pruned,
                quarantined=max(total - complete - pruned, 0),
            )
    assert rec.receipt is not None
    return rec.receipt


def recorded_training(train: Callable[P, list[Path]]) -> Callable[P, list[Path]]:
    """Decorate ``train_run`` so every call leaves the lab's receipts."""
    signature = inspect.signature(train)

    @functools.wraps(train)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> list[Path]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        options = bound.arguments
        run_id = resolve_run_id()
        receipts: list[Receipt] = []
        dataset_refs: list[FileRef] = []
        spec_path = Path(options["spec_path"])
        dataset_dir = _spec_dataset(spec_path)
        if dataset_dir is not None:
            receipt, dataset_refs = record_dataset_validation(dataset_dir, run_id)
            receipts.append(receipt)
        rec = lab_recorder("training", run_id, unit="runs")
        with rec:
            spec_content = _spec_content(spec_path)
            if spec_content is not None:
                rec.add_input_data("spec.yaml#content", spec_content)
            elif spec_path.is_file():
                rec.add_input(spec_path, name="spec.yaml")
            for ref in dataset_refs:
                rec.add_input_ref(ref)
            for key in ("smoke", "retrain"):
                rec.param(key, bool(options[key]))
            study = options.get("study")
            if study is not None:
                rec.param("study.n_trials", getattr(study, "n_trials", None))
            run_dirs = train(*args, **kwargs)
            _record_outputs(rec, run_dirs)
            rec.count(records_in=len(run_dirs), accepted=len(run_dirs))
        assert rec.receipt is not None
        receipts.append(rec.receipt)
        if run_dirs:
            receipts.append(_record_evaluation(run_id, run_dirs, dataset_refs))
            tuning = _record_tuning(run_id, run_dirs)
            if tuning is not None:
                receipts.append(tuning)
        for run_dir in run_dirs:
            for receipt in receipts:
                write_receipt(receipt, run_receipts_dir(run_dir))
        return run_dirs

    return wrapper


def _spec_dataset(spec_path: Path) -> Path | None:
    """The spec's dataset directory, or None when the spec does not load (training says why)."""
    from tessera_lab.spec import load_spec

    try:
        return Path(load_spec(spec_path).dataset)
    except (LabError, ContractError, OSError):
        return None
