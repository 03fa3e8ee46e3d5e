"""Reading one run directory for registration, trusting nothing (DESIGN.md sections 5 and 6).

The three contract files are parsed through the contracts; ``model.txt`` must hash to
``run.json``'s ``model.sha256`` and LightGBM must read the same ``feature_names`` from it;
the fingerprints are recomputed from ``feature_schema``. Files must be regular files inside
the run directory (a symlink out of it is refused); ``report/`` and anything else is ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from tessera_contracts import (
    ContractError,
    RunRecord,
    compute_feature_schema_sha,
    compute_schema_sha,
    parse_json,
)
from tessera_serving.errors import RegistrationError

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
RUN_FILES = ("run.json", "spec.yaml", "model.txt")


@dataclass(frozen=True)
class LoadedRun:
    """A run directory that passed every check, with the exact bytes that were checked."""

    run_dir: Path
    record: RunRecord
    run_json: str
    run_sha256: str
    spec_yaml: str | None
    model_bytes: bytes
    model_sha256: str
    num_trees: int

    @property
    def cell_key(self) -> str:
        return self.record.cell or ""


def contained_file(run_dir: Path, name: str) -> Path:
    """``run_dir/name`` resolved, if it is a regular file inside the run directory."""
    path = run_dir / name
    if not path.is_symlink() and not path.exists():
        raise RegistrationError(
            f"{path}: missing file (a run directory holds {', '.join(RUN_FILES)})"
        )
    root = run_dir.resolve()
    resolved = path.resolve()
    if root not in resolved.parents:
        raise RegistrationError(f"{path}: path escapes the run directory (resolves to {resolved})")
    if not resolved.is_file():
        raise RegistrationError(f"{path}: expected a regular file, found something else")
    return resolved


def parse_run_json(raw: bytes, source: str) -> RunRecord:
    """``run.json`` bytes validated through the contracts (errors name file and field)."""
    try:
        record = parse_json(RunRecord, raw, source)
    except ContractError as exc:
        raise RegistrationError(str(exc)) from exc
    check_fingerprints(record, source)
    return record


def check_fingerprints(record: RunRecord, source: str) -> None:
    """Recompute both fingerprints from ``feature_schema`` and compare with the stored ones."""
    v1 = compute_feature_schema_sha(record.feature_schema.keys())
    v2 = compute_schema_sha(record.feature_schema)
    if record.feature_schema_sha != v1:
        raise RegistrationError(
            f"{source}: field 'feature_schema_sha': {record.feature_schema_sha!r} does not match "
            f"feature_schema (expected {v1!r})"
        )
    if record.schema_sha != v2:
        raise RegistrationError(
            f"{source}: field 'schema_sha': {record.schema_sha!r} does not match feature_schema "
            f"(expected {v2!r})"
        )


def check_booster(model_bytes: bytes, record: RunRecord, source: str, sha256: str) -> int:
    """The model bytes hash to ``model.sha256`` and carry ``feature_names``; return num trees."""
    if sha256 != record.model.sha256:
        raise RegistrationError(
            f"{source}: sha256 {sha256} does not match run.json field 'model.sha256' "
            f"({record.model.sha256}): the file changed after training"
        )
    from tessera_serving.backends.threads import load_lightgbm

    lgb = load_lightgbm()  # deferred: importing it costs seconds, most commands never need it

    try:
        booster = lgb.Booster(model_str=model_bytes.decode("utf-8"))
    except (UnicodeDecodeError, lgb.basic.LightGBMError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RegistrationError(f"{source}: not a LightGBM text model: {first}") from exc
    names = list(booster.feature_name())
    if names != record.feature_names:
        diff = next(
            (
                i
                for i, (a, b) in enumerate(zip(names, record.feature_names, strict=False))
                if a != b
            ),
            min(len(names), len(record.feature_names)),
        )
        found = names[diff] if diff < len(names) else "<end>"
        expected = record.feature_names[diff] if diff < len(record.feature_names) else "<end>"
        raise RegistrationError(
            f"{source}: the booster's feature names differ from run.json field 'feature_names' "
            f"at position {diff}: booster has {found!r}, run.json has {expected!r}"
        )
    return int(booster.num_trees())


def read_spec(path: Path) -> str:
    """``spec.yaml``'s text, which must be a YAML mapping."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RegistrationError(f"{path}: not readable YAML: {first}") from exc
    if not isinstance(data, dict):
        raise RegistrationError(f"{path}: expected a YAML mapping, found {type(data).__name__}")
    return text


def load_run_dir(run_dir: str | Path) -> LoadedRun:
    """Read and check one run directory (see the module docstring)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RegistrationError(
            f"{run_dir}: not a run directory (expected a folder with {', '.join(RUN_FILES)})"
        )
    paths = {name: contained_file(run_dir, name) for name in RUN_FILES}
    raw = paths["run.json"].read_bytes()
    record = parse_run_json(raw, str(run_dir / "run.json"))
    spec = read_spec(paths["spec.yaml"])
    model_bytes = paths["model.txt"].read_bytes()
    model_sha256 = hashlib.sha256(model_bytes).hexdigest()
    num_trees = check_booster(model_bytes, record, str(run_dir / "model.txt"), model_sha256)
    return LoadedRun(
        run_dir=run_dir,
        record=record,
        run_json=raw.decode("utf-8"),
        run_sha256=hashlib.sha256(raw).hexdigest(),
        spec_yaml=spec,
        model_bytes=model_bytes,
        model_sha256=model_sha256,
        num_trees=num_trees,
    )


def expand_run_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The run directories ``paths`` stand for (see :func:`expand_run_sets`)."""
    return [path for path, _ in expand_run_sets(paths)]


def expand_run_sets(paths: Iterable[str | Path]) -> list[tuple[Path, str | None]]:
    """Each run directory with the model name its path implies (None: from run.json).

    A missing ``runs/<name>`` with ``runs/<name>--*`` siblings stands for that per-category
    run set, named ``<name>``.
    """
    expanded: list[tuple[Path, str | None]] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            cells = sorted(p for p in path.parent.glob(f"{path.name}--*") if p.is_dir())
            if cells:
                expanded.extend((cell, path.name) for cell in cells)
                continue
        expanded.append((path, None))
    return expanded
