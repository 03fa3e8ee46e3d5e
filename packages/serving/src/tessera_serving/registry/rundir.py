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
from typing import Any

from tessera_contracts import (
    ContractError,
    RunRecord,
    parse_json,
)
from tessera_serving.errors import RegistrationError
from tessera_serving.registry.run_consistency import (
    BoosterFacts,
    check_against_booster,
    check_against_spec,
)
from tessera_serving.registry.yaml_io import load_yaml, read_text

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
    """``run.json`` bytes validated through the contracts (errors name file and field).

    ``RunRecord`` recomputes both fingerprints from ``feature_schema`` itself, so a record
    that parses carries the right ones.
    """
    try:
        return parse_json(RunRecord, raw, source)
    except ContractError as exc:
        raise RegistrationError(str(exc)) from exc


def check_booster(model_bytes: bytes, record: RunRecord, source: str, sha256: str) -> BoosterFacts:
    """The model bytes hash to ``model.sha256`` and carry ``feature_names``; what they state."""
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
    return BoosterFacts.read(model_bytes.decode("utf-8"), int(booster.num_trees()))


def read_spec(path: Path) -> tuple[str, dict[str, Any]]:
    """``spec.yaml``'s text and its data, which must be a YAML mapping."""
    text = read_text(path, RegistrationError)
    data = load_yaml(text, str(path), RegistrationError)
    if not isinstance(data, dict):
        raise RegistrationError(f"{path}: expected a YAML mapping, found {type(data).__name__}")
    return text, data


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
    spec, spec_data = read_spec(paths["spec.yaml"])
    model_bytes = paths["model.txt"].read_bytes()
    model_sha256 = hashlib.sha256(model_bytes).hexdigest()
    facts = check_booster(model_bytes, record, str(run_dir / "model.txt"), model_sha256)
    source, spec_source = str(run_dir / "run.json"), str(run_dir / "spec.yaml")
    check_against_spec(record, spec_data, source, spec_source)
    check_against_booster(record, facts, spec_data, source, spec_source)
    return LoadedRun(
        run_dir=run_dir,
        record=record,
        run_json=raw.decode("utf-8"),
        run_sha256=hashlib.sha256(raw).hexdigest(),
        spec_yaml=spec,
        model_bytes=model_bytes,
        model_sha256=model_sha256,
        num_trees=facts.num_trees,
    )


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
