"""The training spec (``spec.yaml``, DESIGN.md section 4): a strict pydantic model, YAML in/out.

Unknown keys and bad values raise ``SpecError`` with one line naming the file and the
key path (``spec.yaml: early_stopping.rounds: Input should be greater than 0``).
Relative dataset paths resolve against the spec file's directory. Example::

    dataset: ../datasets/synth            # relative to this file
    feature_families: [knn, alignment, annotation_meta]
    objective: lambdarank                 # or binary
    protocol: {cells: pooled, snapshots: all}   # per_category; or a list of pairs
    weighting: none                       # weight | log1p | sqrt (of the weight column)
    params: {learning_rate: 0.05, num_leaves: 31}
    num_boost_round: 500
    early_stopping: {rounds: 50, metric: ndcg@10}   # or null: exactly num_boost_round rounds
    validation: {carve: 0.2}              # or {snapshot_pairs: [valid]}: where early stopping looks
    evaluation: {ndcg: {no_relevant: one, gain: exponential, short_queries: truncate}}
    seed: 0
    num_threads: 1
    search:                               # optional: Optuna
      space:
        num_leaves: {type: int, low: 8, high: 128, log: true}
        learning_rate: {type: float, low: 0.01, high: 0.3, log: true}
      n_trials: 20
      timeout_s: null                     # or a time budget in seconds (whichever ends first)
      sampler: {type: tpe}                # seed defaults to the spec's seed
      pruner: {type: median, n_startup_trials: 5, n_warmup_steps: 10}
      storage: null                       # default journal:<runs_dir>/.optuna/<study>.journal
    engine: local                         # or {kind: dask, scheduler: local, workers: 2}
    gate: {metric: ndcg@10, min_lift: 0.01}
    license: {id: Apache-2.0, url: "https://www.apache.org/licenses/LICENSE-2.0"}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tessera_contracts import FAMILY_NAME_PATTERN, License
from tessera_lab.errors import SpecError
from tessera_lab.spec_messages import format_spec_error as format_spec_error
from tessera_lab.spec_search import LAB_CONTROLLED_PARAMS as LAB_CONTROLLED_PARAMS
from tessera_lab.spec_search import Categorical as Categorical
from tessera_lab.spec_search import Dimension as Dimension
from tessera_lab.spec_search import FloatRange as FloatRange
from tessera_lab.spec_search import IntRange as IntRange
from tessera_lab.spec_search import Pruner as Pruner
from tessera_lab.spec_search import Sampler as Sampler
from tessera_lab.spec_search import Search as Search
from tessera_lab.spec_search import check_param_keys
from tessera_lab.spec_sections import BINARY_GATE_METRICS as BINARY_GATE_METRICS
from tessera_lab.spec_sections import GATE_METRICS as GATE_METRICS
from tessera_lab.spec_sections import METRIC_PATTERN as METRIC_PATTERN
from tessera_lab.spec_sections import EarlyStopping as EarlyStopping
from tessera_lab.spec_sections import (
    Evaluation,
    StrictBlock,
    Validation,
    parse_label_gain,
    resolve_gain,
)
from tessera_lab.spec_sections import GateRule as GateRule
from tessera_lab.yaml_files import load_yaml_file

DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l2": 0.0,
    "max_bin": 255,
}
"""LightGBM's own defaults for the knobs people tune, except a gentler learning rate."""

ParamValue = float | int | str | bool | list[int] | list[float]


_Strict = StrictBlock


class TrainingProtocol(_Strict):
    """Which rows train which booster: cells (pooled or one per category) and snapshot pairs."""

    cells: Literal["pooled", "per_category"] = "pooled"
    snapshots: Literal["all"] | Annotated[list[str], Field(min_length=1)] = "all"

    @field_validator("snapshots")
    @classmethod
    def _unique(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(set(value)) != len(value):
            raise ValueError(f"snapshot pairs must be unique, got {value!r}")
        return value


DASK_SCHEDULER_PATTERN = r"^(local|tcp://[^\s/]+:[0-9]{1,5})$"


class LocalEngine(_Strict):
    """Train in this process with ``lightgbm.train`` (the default)."""

    kind: Literal["local"] = "local"


class DaskEngine(_Strict):
    """Train on LightGBM's Dask interface: a local cluster or a running scheduler.

    ``scheduler: local`` starts ``workers`` in-process workers (threads); an address joins
    a running cluster and waits up to ``connect_timeout_s`` for ``workers`` workers. The
    rows are cut into ``workers`` partitions of whole queries, one per worker.
    """

    kind: Literal["dask"]
    scheduler: str = "local"
    workers: Annotated[int, Field(ge=1, le=1024)] = 2
    connect_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0

    @field_validator("scheduler")
    @classmethod
    def _address(cls, value: str) -> str:
        if not re.fullmatch(DASK_SCHEDULER_PATTERN, value):
            raise ValueError(
                f"expected 'local' or a scheduler address such as tcp://HOST:8786, found {value!r}"
            )
        return value


Engine = Annotated[LocalEngine | DaskEngine, Field(discriminator="kind")]


class Spec(_Strict):
    """A training spec. ``dataset`` is absolute once loaded through :func:`load_spec`.

    ``num_threads`` defaults to 1: on small shared VMs LightGBM's OpenMP threads busy-wait
    (OMP_WAIT_POLICY=active) and an explicit 2 threads on 2 vCPUs ran ~100x slower than 1
    thread (PERF-NOTES). Raise it only with ``OMP_WAIT_POLICY=passive`` (the CLI sets it).
    """

    dataset: Path
    feature_families: Annotated[
        list[Annotated[str, Field(pattern=FAMILY_NAME_PATTERN)]], Field(min_length=1)
    ]
    objective: Literal["binary", "lambdarank"] = "lambdarank"
    protocol: TrainingProtocol = TrainingProtocol()
    weighting: Literal["none", "weight", "log1p", "sqrt"] = "none"
    params: dict[str, ParamValue] = Field(default_factory=lambda: dict(DEFAULT_PARAMS))
    num_boost_round: Annotated[int, Field(gt=0, le=100_000)] = 500
    early_stopping: EarlyStopping | None = EarlyStopping()
    validation: Validation = Validation()
    evaluation: Evaluation = Evaluation()
    seed: int = 0
    num_threads: Annotated[int, Field(ge=1, le=1024)] = 1
    search: Search | None = None
    engine: Engine = LocalEngine()
    gate: GateRule = GateRule()
    license: License

    @field_validator("feature_families")
    @classmethod
    def _unique_families(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"feature families must be unique, got {value!r}")
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_param_keys(value)
        return value

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("engine")
    @classmethod
    def _engine_without_early_stopping(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, DaskEngine) and info.data.get("early_stopping") is not None:
            raise ValueError(
                "the dask engine trains exactly num_boost_round rounds (LightGBM's Dask "
                "interface does not early-stop); set early_stopping: null"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = _legacy_valid_fraction(data)
        return {**data, "evaluation": resolve_gain(data.get("evaluation"), data.get("params"))}

    @model_validator(mode="after")
    def _search_needs_validation(self) -> Spec:
        if self.search is not None and self.early_stopping is None:
            raise ValueError("search needs early_stopping (its validation split scores trials)")
        return self

    @model_validator(mode="after")
    def _validation_pairs(self) -> Spec:
        pairs = self.validation.snapshot_pairs or []
        if pairs and self.early_stopping is None:
            raise ValueError(
                "validation.snapshot_pairs needs early_stopping (with early_stopping: null "
                "nothing validates; list the training pairs in protocol.snapshots instead)"
            )
        chosen = self.protocol.snapshots
        both = sorted(set(pairs) & set(chosen)) if chosen != "all" else []
        if both:
            raise ValueError(
                f"validation.snapshot_pairs {both} are also in protocol.snapshots; a snapshot "
                "pair either trains or validates (list only the training pairs there)"
            )
        return self

    @model_validator(mode="after")
    def _label_gain(self) -> Spec:
        try:
            gains = parse_label_gain(self.params.get("label_gain"))
        except ValueError as exc:
            raise ValueError(f"params.label_gain: {exc}") from None
        if self.evaluation.ndcg.gain == "label_gain" and gains is None:
            raise ValueError(
                "evaluation.ndcg.gain 'label_gain' needs params.label_gain (one gain per label)"
            )
        return self

    @property
    def label_gain(self) -> list[float] | None:
        """The gain table the lab's NDCG uses, or None for ``2^label - 1`` / the label."""
        if self.evaluation.ndcg.gain != "label_gain":
            return None
        return parse_label_gain(self.params.get("label_gain"))

    @property
    def families(self) -> list[str]:
        """The active families, sorted (the order their columns are selected in)."""
        return sorted(self.feature_families)

    def to_yaml(self) -> str:
        """The spec as YAML (every default filled in), loadable by :func:`load_spec`."""
        data = self.model_dump(mode="json")
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _legacy_valid_fraction(data: dict[str, Any]) -> dict[str, Any]:
    """``early_stopping.valid_fraction`` (older specs) is ``validation: {carve: ...}``."""
    stopping = data.get("early_stopping")
    if not isinstance(stopping, dict) or "valid_fraction" not in stopping:
        return data
    if data.get("validation") is not None:
        raise ValueError(
            "early_stopping.valid_fraction and validation both say where validation comes "
            "from; keep only validation: {carve: FRACTION}"
        )
    fraction = stopping["valid_fraction"]
    rest = {k: v for k, v in stopping.items() if k != "valid_fraction"}
    return {**data, "early_stopping": rest, "validation": {"carve": fraction}}


def parse_spec(data: Any, source: str, base_dir: Path) -> Spec:
    """Validate plain data as a spec; resolve ``dataset`` against ``base_dir``."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a YAML mapping at the top level, found {data!r:.60}")
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_spec_error(source, exc)) from None
    dataset = spec.dataset.expanduser()
    if not dataset.is_absolute():
        dataset = (base_dir / dataset).resolve()
    return spec.model_copy(update={"dataset": dataset})


def load_spec(path: str | Path) -> Spec:
    """Read and validate ``spec.yaml``; malformed YAML is reported with its line."""
    spec_path = Path(path)
    data = load_yaml_file(spec_path, what="spec", error=SpecError)
    return parse_spec(data, str(spec_path), spec_path.resolve().parent)
