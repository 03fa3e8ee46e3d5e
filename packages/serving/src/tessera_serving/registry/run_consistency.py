"""Cross-checks of a run's three files: what run.json states, spec.yaml and model.txt must agree.

run.json alone is not trusted: the gate verdict is recomputed from the run's metrics under the
gate rule spec.yaml states (the contracts own the rule), and the objective, seed, smoke flag,
number of trees and feature names are compared with what spec.yaml and the booster say.
A spec.yaml is the resolved spec the lab wrote, so the keys checked here must be present.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tessera_contracts import ContractError, RunRecord, decide_gate
from tessera_serving.errors import RegistrationError

_PARAM_LINE = re.compile(r"^\[(?P<key>[a-z_]+): (?P<value>.*)\]$")


@dataclass(frozen=True)
class BoosterFacts:
    """What LightGBM's text model states about itself (header and ``parameters:`` section)."""

    num_trees: int
    objective: str | None
    params: Mapping[str, str]

    @classmethod
    def read(cls, model_text: str, num_trees: int) -> BoosterFacts:
        """Parse the header's ``objective=`` and the ``parameters:`` section (not the trees)."""
        header = model_text[: model_text.find("\nTree=")]
        objective = next(
            (
                line.removeprefix("objective=").split(" ")[0]
                for line in header.splitlines()
                if line.startswith("objective=")
            ),
            None,
        )
        start = model_text.rfind("\nparameters:\n")
        end = model_text.find("\nend of parameters", start)
        section = model_text[start:end].splitlines() if 0 <= start < end else []
        params = {m["key"]: m["value"] for line in section if (m := _PARAM_LINE.match(line))}
        return cls(num_trees=num_trees, objective=objective, params=params)

    def param_int(self, key: str) -> int | None:
        value = self.params.get(key)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None


def _disagree(source: str, field: str, stated: object, other: str, found: object) -> None:
    raise RegistrationError(
        f"{source}: field {field!r} is {stated!r} but {other} states {found!r}; "
        "the run's files disagree (edited after training?)"
    )


def _spec_value(spec: Mapping[str, Any], path: str, spec_source: str) -> Any:
    node: Any = spec
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise RegistrationError(
                f"{spec_source}: key {path!r} is missing; expected the resolved spec the lab "
                "writes into a run directory"
            )
        node = node[key]
    return node


def check_gate(record: RunRecord, spec: Mapping[str, Any], source: str, spec_source: str) -> None:
    """run.json's gate is the one spec.yaml's rule gives on run.json's metrics."""
    metric = _spec_value(spec, "gate.metric", spec_source)
    min_lift = _spec_value(spec, "gate.min_lift", spec_source)
    if not isinstance(min_lift, int | float) or isinstance(min_lift, bool):
        raise RegistrationError(f"{spec_source}: key 'gate.min_lift': expected a number")
    if record.gate.metric != metric:
        _disagree(source, "gate.metric", record.gate.metric, "spec.yaml", metric)
    if not math.isclose(record.gate.min_lift, float(min_lift), rel_tol=1e-12, abs_tol=1e-12):
        _disagree(source, "gate.min_lift", record.gate.min_lift, "spec.yaml", min_lift)
    try:
        expected = decide_gate(str(metric), float(min_lift), record.metrics)
    except ContractError as exc:
        raise RegistrationError(f"{source}: field 'metrics': {exc}") from exc
    for field in ("model_value", "baseline_value"):
        stated, computed = getattr(record.gate, field), getattr(expected, field)
        if not math.isclose(stated, computed, rel_tol=1e-9, abs_tol=1e-12):
            _disagree(source, f"gate.{field}", stated, f"metrics ({metric})", computed)
    if record.gate.verdict != expected.verdict:
        raise RegistrationError(
            f"{source}: field 'gate.verdict' is {record.gate.verdict!r} but the gate in "
            f"spec.yaml ({metric}, min_lift {min_lift}) gives {expected.verdict!r} on the run's "
            f"metrics (lift {expected.lift:.6g})"
        )


def check_against_spec(
    record: RunRecord, spec: Mapping[str, Any], source: str, spec_source: str
) -> None:
    """Objective, seed and gate as run.json states them equal spec.yaml's."""
    for field in ("objective", "seed"):
        stated = _spec_value(spec, field, spec_source)
        if getattr(record, field) != stated:
            _disagree(source, field, getattr(record, field), "spec.yaml", stated)
    check_gate(record, spec, source, spec_source)


def check_against_booster(
    record: RunRecord,
    facts: BoosterFacts,
    spec: Mapping[str, Any] | None,
    source: str,
    spec_source: str = "spec.yaml",
) -> None:
    """Number of trees, objective, seed and (with a spec) the smoke flag match the booster."""
    if record.model.num_trees != facts.num_trees:
        _disagree(source, "model.num_trees", record.model.num_trees, "model.txt", facts.num_trees)
    if facts.objective is not None and facts.objective != record.objective:
        _disagree(source, "objective", record.objective, "model.txt", facts.objective)
    seed = facts.param_int("seed")
    if seed is not None and seed != record.seed:
        _disagree(source, "seed", record.seed, "model.txt", seed)
    rounds = facts.param_int("num_iterations")
    if spec is None or record.smoke or rounds is None:
        return  # claiming smoke is the safe direction: such a run is never promoted
    planned = _spec_value(spec, "num_boost_round", spec_source)
    if planned != rounds:
        raise RegistrationError(
            f"{source}: field 'smoke' is false but model.txt was trained for {rounds} rounds "
            f"where spec.yaml states num_boost_round {planned} (a smoke run?)"
        )
