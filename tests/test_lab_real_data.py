"""The lab on real data: LightGBM's own lambdarank example, through import, train and evaluate.

Trains ``rank.train`` with the example's parameters (examples/lambdarank/train.conf:
100 trees, learning rate 0.1, 31 leaves, bagging 0.9 every round, min_data_in_leaf 50,
min_sum_hessian_in_leaf 5) and checks that the lab's NDCG@1/3/5 on ``rank.test`` equal
what raw ``lightgbm.train`` reports on the same files: the lab adds no accuracy loss.

Feature indexing (SOURCE.md): LightGBM's file loader keeps indices as given (301 columns,
column 0 empty); the importer names them ``f1``..``f300``. The empty column is never used
by a tree, so both give the same model and the same metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import pytest
import yaml

from tessera_contracts import load_run_record
from tessera_lab.dataset import DEFAULT_FAMILY, import_dataset, open_dataset
from tessera_lab.errors import SpecError
from tessera_lab.training import train_run

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lightgbm-examples"
RANK = DATA / "lambdarank"
EXAMPLE_PARAMS: dict[str, Any] = {
    "boosting": "gbdt",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "feature_fraction": 1.0,
    "bagging_freq": 1,
    "bagging_fraction": 0.9,
    "min_data_in_leaf": 50,
    "min_sum_hessian_in_leaf": 5.0,
    "max_bin": 255,
}
ROUNDS = 100
SEED = 0
LICENSE = {"id": "MIT", "url": "https://github.com/microsoft/LightGBM/blob/master/LICENSE"}


@pytest.fixture(scope="module")
def rank_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert (RANK / "rank.train").is_file(), f"missing real test data under {RANK}"
    out = tmp_path_factory.mktemp("rank") / "rank"
    import_dataset(out, train=RANK / "rank.train", eval=RANK / "rank.test")
    return out


def write_spec(path: Path, dataset: Path, **fields: Any) -> Path:
    data = {
        "dataset": str(dataset),
        "feature_families": [DEFAULT_FAMILY],
        "objective": "lambdarank",
        "params": EXAMPLE_PARAMS,
        "num_boost_round": ROUNDS,
        "early_stopping": None,  # the example trains a fixed 100 rounds
        "seed": SEED,
        "num_threads": 1,
        "gate": {"metric": "ndcg@5", "min_lift": 0.0},
        "license": LICENSE,
        **fields,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def raw_lightgbm_ndcg() -> dict[str, float]:
    """The example, run by LightGBM itself from the text files (with the .query files)."""
    params = {
        **EXAMPLE_PARAMS,
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [1, 3, 5],
        "seed": SEED,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }
    train = lgb.Dataset(str(RANK / "rank.train"))
    valid = lgb.Dataset(str(RANK / "rank.test"), reference=train)
    history: dict[str, Any] = {}
    lgb.train(
        params, train, ROUNDS, valid_sets=[valid], valid_names=["test"],
        callbacks=[lgb.record_evaluation(history)],
    )  # fmt: skip
    return {name: values[-1] for name, values in history["test"].items()}


def test_lab_matches_raw_lightgbm_on_the_lambdarank_example(
    rank_dataset: Path, tmp_path: Path
) -> None:
    manifest = open_dataset(rank_dataset).manifest
    assert manifest.label_kind == "graded"
    assert manifest.files["train.parquet"].rows == 3005
    assert manifest.files["eval.parquet"].rows == 768
    spec = write_spec(tmp_path / "rank.yaml", rank_dataset)
    [run] = train_run(spec, name="rank", runs_dir=tmp_path / "runs", quiet=True)
    record = load_run_record(run / "run.json")
    assert record.model.num_trees == ROUNDS
    assert record.dataset.train_rows == 3005 and record.dataset.valid_rows == 0
    raw = raw_lightgbm_ndcg()
    for k in (1, 3, 5):
        assert record.metrics.eval[f"ndcg@{k}"] == pytest.approx(raw[f"ndcg@{k}"], rel=1e-9)
    # the booster beats the input order (the importer's baseline) by a wide margin
    assert record.gate.lift > 0.1 and record.gate.verdict == "PROMOTE"


def test_weighting_without_a_weight_column_is_a_spec_error(
    rank_dataset: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path / "weighted.yaml", rank_dataset, weighting="log1p")
    with pytest.raises(SpecError, match=r"weighted\.yaml: weighting: 'log1p' needs a weight"):
        train_run(spec, name="w", runs_dir=tmp_path / "runs", quiet=True)
    assert not (tmp_path / "runs").exists()
