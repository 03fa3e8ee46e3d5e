"""Model names of runs and their grouping: which runs form one model version.

A pooled run is a model on its own; per-category runs sharing a model name are its cells
and must agree on objective and schema.
"""

from __future__ import annotations

from collections.abc import Sequence

from tessera_contracts import ContractError, check_name
from tessera_serving.errors import RegistrationError
from tessera_serving.registry.rundir import LoadedRun


def model_name_of(run: LoadedRun, override: str | None) -> str:
    """``--name`` if given, else the run's name without its ``--<cell>`` suffix."""
    if override:
        return override
    name, cell = run.record.name, run.record.cell
    if cell is None:
        return name
    if name.endswith(f"--{cell}"):
        return name[: -len(f"--{cell}")]
    return name.rsplit("--", 1)[0]  # the lab sanitises the category in the suffix


def group_runs(
    runs: Sequence[tuple[LoadedRun, str | None]], name: str | None
) -> dict[str, list[LoadedRun]]:
    """Runs grouped by model name; each group must be one pooled run or distinct cells."""
    groups: dict[str, list[LoadedRun]] = {}
    for run, implied in runs:
        groups.setdefault(model_name_of(run, name or implied), []).append(run)
    for model, members in groups.items():
        first = members[0]
        cells = [m.record.cell for m in members]
        if len(members) > 1 and None in cells:
            raise RegistrationError(
                f"{members[cells.index(None)].run_dir}: a pooled run cannot share model name "
                f"{model!r} with other runs in one registration"
            )
        dupes = sorted({c for c in cells if c is not None and cells.count(c) > 1})
        if dupes:
            raise RegistrationError(f"model {model!r}: cell {dupes[0]!r} given twice")
        for other in members[1:]:
            for field in ("objective", "schema_sha"):
                if getattr(other.record, field) != getattr(first.record, field):
                    raise RegistrationError(
                        f"{other.run_dir / 'run.json'}: field {field!r} is "
                        f"{getattr(other.record, field)!r} but {first.run_dir.name} has "
                        f"{getattr(first.record, field)!r}; cells of one model must agree"
                    )
    return groups


def check_model_name(name: str) -> str:
    """``name`` if the contracts' name rule allows it, else RegistrationError (nothing written)."""
    try:
        return check_name(name, "model name")
    except ContractError as exc:
        raise RegistrationError(str(exc)) from exc
