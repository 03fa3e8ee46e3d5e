"""The lab on real data: LightGBM's own lambdarank example, through import, train and evaluate.

Trains ``rank.train`` with the example's parameters (examples/lambdarank/train.conf:
100 trees, learning rate 0.1, 31 leaves, bagging 0.9 every round, min_data_in_leaf 50,
min_sum_hessian_in_leaf 5) and checks that the lab's NDCG@1/3/5 on ``rank.test`` equal
what raw ``lightgbm.train`` reports on the same files: the lab adds no accuracy loss.

Feature indexing (SOURCE.md): LightGBM's file loader keeps indices as given (301 columns,
column 0 empty); the importer names them ``f1``..``f300``. The empty column is never used
by a tree, so both give the same model and the same metrics.

A published fold's protocol (train on train, early-stop on vali, evaluate on test) is
checked the same way on a fold that ``fixtures/carve_rank_fold.py`` carves out of the
example into a temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import yaml

from tessera_contracts import load_run_record
from tessera_lab.dataset import DEFAULT_FAMILY, import_dataset, open_dataset
from tessera_lab.dataset.validfile import ValidInput
from tessera_lab.errors import SpecError
from tessera_lab.training import train_run

DATA = Path(
    os.environ.get(
        "TESSERA_LIGHTGBM_EXAMPLES",
        Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lightgbm-examples",
    )
)
RANK = DATA / "lambdarank"
FOLD_SCRIPT = Path(__file__).resolve().parent / "fixtures" / "carve_rank_fold.py"
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


@pytest.fixture(scope="module")
def rank_fold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rank.train / rank.vali / rank.test (+ .query), carved by the committed script."""
    assert (RANK / "rank.train").is_file(), f"missing real test data under {RANK}"
    out = tmp_path_factory.mktemp("fold")
    subprocess.run([sys.executable, FOLD_SCRIPT, RANK, out], check=True, capture_output=True)
    return out


def raw_params(*eval_at: int) -> dict[str, Any]:
    """The example's parameters with the lab's fixed ones, for raw ``lightgbm.train``."""
    return {
        **EXAMPLE_PARAMS,
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": list(eval_at),
        "first_metric_only": True,
        "seed": SEED,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def raw_early_stopped(
    fold: Path, metric_at: int, rounds: int, patience: int
) -> tuple[lgb.Booster, lgb.Dataset]:
    """The published protocol as raw LightGBM runs it: train, early-stop on vali."""
    params = raw_params(metric_at)
    train = lgb.Dataset(str(fold / "rank.train"))
    vali = lgb.Dataset(str(fold / "rank.vali"), reference=train)
    booster = lgb.train(
        params, train, rounds, valid_sets=[vali], valid_names=["vali"],
        callbacks=[lgb.early_stopping(patience, first_metric_only=True, verbose=False)],
    )  # fmt: skip
    return booster, train


def test_a_published_fold_protocol_gives_raw_lightgbms_model(
    rank_fold: Path, tmp_path: Path
) -> None:
    dataset = tmp_path / "fold"
    manifest = import_dataset(
        dataset,
        train=rank_fold / "rank.train",
        eval=rank_fold / "rank.test",
        valid=ValidInput(rank_fold / "rank.vali"),
    )
    assert manifest.snapshot_pairs == ["static", "valid"]
    rounds, patience = 400, 15
    spec = write_spec(
        tmp_path / "fold.yaml",
        dataset,
        num_boost_round=rounds,
        early_stopping={"rounds": patience, "metric": "ndcg@5"},
        validation={"snapshot_pairs": ["valid"]},
    )
    [run] = train_run(spec, name="fold", runs_dir=tmp_path / "runs", quiet=True)
    record = load_run_record(run / "run.json")
    raw, raw_train = raw_early_stopped(rank_fold, 5, rounds, patience)
    vali_sizes = [int(n) for n in (rank_fold / "rank.vali.query").read_text().split()]

    assert 0 < raw.best_iteration < rounds - patience  # early stopping did stop early
    assert record.model.best_iteration == raw.best_iteration
    assert record.model.num_trees == raw.best_iteration
    assert record.model.rounds == raw.best_iteration + patience
    assert record.validation is not None
    assert record.validation.model_dump() == {
        "method": "snapshot_pairs", "carve": None, "snapshot_pairs": ["valid"],
        "rows": sum(vali_sizes), "queries": len(vali_sizes),
    }  # fmt: skip
    assert record.dataset.snapshot_pairs == ["static"]
    assert record.dataset.train_rows + record.validation.rows == 3005
    history = json.loads((run / "report" / "history.json").read_text("utf-8"))
    assert history["rounds"] == record.model.rounds
    assert history["best_iteration"] == raw.best_iteration
    assert sorted(history["curves"]) == ["train ndcg@5", "valid ndcg@5"]
    assert all(len(c) == record.model.rounds for c in history["curves"].values())

    ours = lgb.Booster(model_file=str(run / "model.txt"))
    table = open_dataset(dataset).read("eval", columns=ours.feature_name())
    features = np.column_stack([table.column(n).to_numpy() for n in ours.feature_name()])
    theirs = raw.predict(np.column_stack([np.zeros(len(features)), features]))
    np.testing.assert_array_equal(ours.predict(features), theirs)
    # LightGBM's own NDCG on test, for the same trees (a fixed-rounds rerun, as above)
    evaluated: dict[str, Any] = {}
    test = lgb.Dataset(str(rank_fold / "rank.test"), reference=raw_train)
    lgb.train(
        raw_params(1, 3, 5), raw_train, raw.best_iteration,
        valid_sets=[test], valid_names=["test"], callbacks=[lgb.record_evaluation(evaluated)],
    )  # fmt: skip
    for k in (1, 3, 5):
        expected = evaluated["test"][f"ndcg@{k}"][-1]
        assert record.metrics.eval[f"ndcg@{k}"] == pytest.approx(expected, rel=1e-9)


def test_the_fold_protocol_from_the_shell(rank_fold: Path, tmp_path: Path, tessera: Any) -> None:
    """The researcher's path: ``dataset import --valid``, one spec, ``train``, ``report``."""
    tessera(
        tmp_path, "tessera-lab", "dataset", "import", "fold",
        "--train", str(rank_fold / "rank.train"), "--valid", str(rank_fold / "rank.vali"),
        "--eval", str(rank_fold / "rank.test"),
    )  # fmt: skip
    write_spec(
        tmp_path / "fold.yaml",
        Path("fold"),
        num_boost_round=400,
        early_stopping={"rounds": 15, "metric": "ndcg@5"},
        validation={"snapshot_pairs": ["valid"]},
    )
    result = tessera(tmp_path, "tessera-lab", "train", "fold.yaml", "--name", "f")
    raw, _ = raw_early_stopped(rank_fold, 5, 400, 15)
    vali_sizes = [int(n) for n in (rank_fold / "rank.vali.query").read_text().split()]
    assert (
        f"validation snapshot pairs valid ({sum(vali_sizes)} rows, {len(vali_sizes)} queries); "
        f"best iteration {raw.best_iteration} of {raw.best_iteration + 15} rounds"
    ) in result.stdout
    ours = lgb.Booster(model_file=str(tmp_path / "runs" / "f" / "model.txt"))
    x = np.random.default_rng(0).random((50, 300))
    np.testing.assert_array_equal(ours.predict(x), raw.predict(np.column_stack([x[:, :1] * 0, x])))
    report = tessera(tmp_path, "tessera-lab", "report", "runs/f", "--no-plots")
    assert f"best iteration {raw.best_iteration} of {raw.best_iteration + 15} rounds" in (
        report.stdout
    )
