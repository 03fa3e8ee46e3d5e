"""NDCG conventions (``evaluation.ndcg``): hand-computed values for every choice, the spec's
``label_gain`` used by the lab's metrics exactly as LightGBM uses it, and the choice and
per-split counts recorded in run.json."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from tessera_contracts import load_run_record
from tessera_lab.booster import lightgbm_params
from tessera_lab.conventions import NdcgRule
from tessera_lab.dataset import open_dataset
from tessera_lab.evaluation import Queries, compare, ranking_metrics, split_query_counts
from tessera_lab.spec import load_spec
from tessera_lab.training import train_run

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]

# query 0: three rows, labels 2,0,1, ranked as given; query 1: nothing relevant (3 rows);
# query 2: two rows (short for k=3), labels 0,1, ranked wrongly (the relevant row second).
QID = np.array([0, 0, 0, 1, 1, 1, 2, 2])
LABEL = np.array([2, 0, 1, 0, 0, 0, 0, 1])
SCORE = np.array([3.0, 2.0, 1.0, 3.0, 2.0, 1.0, 2.0, 1.0])
D = [1 / math.log2(r + 2) for r in range(3)]


def q0(gain: Callable[[int], float]) -> float:
    dcg = gain(2) * D[0] + gain(0) * D[1] + gain(1) * D[2]
    ideal = gain(2) * D[0] + gain(1) * D[1]
    return dcg / ideal


def q2(gain: Callable[[int], float]) -> float:
    return gain(1) * D[1] / (gain(1) * D[0])


def ndcg3(rule: NdcgRule) -> float | None:
    metrics = ranking_metrics(Queries.from_ids(QID, LABEL, rule=rule), SCORE, binary=False)
    return metrics.get("ndcg@3")


EXP = lambda g: 2.0**g - 1  # noqa: E731
LIN = float
TABLE = [0.0, 5.0, 6.0].__getitem__


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (NdcgRule(), (q0(EXP) + 1 + q2(EXP)) / 3),
        (NdcgRule(no_relevant="zero"), (q0(EXP) + 0 + q2(EXP)) / 3),
        (NdcgRule(no_relevant="exclude"), (q0(EXP) + q2(EXP)) / 2),
        (NdcgRule(gain="linear"), (q0(LIN) + 1 + q2(LIN)) / 3),
        (NdcgRule(short_queries="exclude"), (q0(EXP) + 1) / 2),
        (NdcgRule(no_relevant="exclude", short_queries="exclude"), q0(EXP)),
        (NdcgRule(gain="label_gain", label_gain=(0, 5, 6)), (q0(TABLE) + 1 + D[1]) / 3),
    ],
    ids=["lightgbm", "letor-zero", "exclude-empty", "linear", "exclude-short", "both", "table"],
)  # fmt: skip
def test_each_convention_by_hand(rule: NdcgRule, expected: float) -> None:
    assert ndcg3(rule) == pytest.approx(expected, rel=1e-12)


def test_a_metric_with_every_query_excluded_is_left_out() -> None:
    rule = NdcgRule(no_relevant="exclude")
    metrics = compare(QID[3:6], LABEL[3:6], np.array(["a"] * 3), SCORE[3:6], SCORE[3:6],
                      binary=False, rule=rule)  # fmt: skip
    assert "ndcg@3" not in metrics.eval and "ndcg@3" not in metrics.baseline
    assert "map" in metrics.eval


def test_query_counts() -> None:
    counts = split_query_counts(QID, LABEL)
    assert counts.queries == 3 and counts.no_relevant == 1
    assert counts.fewer_than_k == {"ndcg@1": 0, "ndcg@3": 1, "ndcg@5": 3, "ndcg@10": 3}


def test_a_label_beyond_the_gain_table_is_named() -> None:
    with pytest.raises(ValueError, match=r"row 0: label 2 has no entry in params.label_gain"):
        NdcgRule(gain="label_gain", label_gain=(0.0, 1.0)).gains(LABEL)


def _split(dataset: Path, split: str, names: list[str]) -> tuple[np.ndarray, ...]:
    table = open_dataset(dataset).read(split)
    ids = table.column("query_id").to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    x = np.column_stack([table.column(n).to_numpy() for n in names])
    return x, table.column("label").to_numpy(), np.diff(np.r_[starts, len(ids)]), ids


def test_label_gain_reaches_the_labs_metrics_as_lightgbm_uses_it(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    gains = [0.0, 1.0, 2.0, 9.0, 30.0]
    spec = make_spec(
        graded_dataset,
        params={"learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 10,
                "label_gain": gains},
        early_stopping=None,
    )  # fmt: skip
    [run] = train_run(spec, name="g", runs_dir=tmp_path / "runs", quiet=True)
    record = load_run_record(run / "run.json")
    assert record.evaluation is not None
    assert record.evaluation.ndcg_gain == "label_gain" and record.evaluation.label_gain == gains
    ours = lgb.Booster(model_file=str(run / "model.txt"))
    names = ours.feature_name()
    x, y, groups, _ = _split(graded_dataset, "train", names)
    xe, ye, groups_e, ids_e = _split(graded_dataset, "eval", names)
    params = lightgbm_params(load_spec(spec)) | {"metric": "ndcg", "eval_at": [1, 3, 5, 10]}
    train = lgb.Dataset(x, label=y, group=groups, feature_name=names)
    test = lgb.Dataset(xe, label=ye, group=groups_e, reference=train)
    history: dict[str, dict[str, list[float]]] = {}
    raw = lgb.train(
        params, train, record.model.num_trees, valid_sets=[test], valid_names=["eval"],
        callbacks=[lgb.record_evaluation(history)],
    )  # fmt: skip
    np.testing.assert_array_equal(raw.predict(xe), ours.predict(xe))  # the same trees
    for k in (1, 3, 5, 10):
        theirs = history["eval"][f"ndcg@{k}"][-1]
        assert record.metrics.eval[f"ndcg@{k}"] == pytest.approx(theirs, rel=1e-9), k
    plain = ranking_metrics(Queries.from_ids(ids_e, ye), raw.predict(xe), binary=False)
    assert plain["ndcg@10"] != pytest.approx(record.metrics.eval["ndcg@10"], rel=1e-6)


def test_run_json_records_the_convention_and_per_split_counts(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, evaluation={"ndcg": {"no_relevant": "zero", "gain": "linear"}})
    [run] = train_run(spec, name="c", runs_dir=tmp_path / "runs", quiet=True)
    record = load_run_record(run / "run.json")
    found = record.evaluation
    assert found is not None
    assert (found.ndcg_no_relevant, found.ndcg_gain, found.ndcg_short_queries) == (
        "zero", "linear", "truncate",
    )  # fmt: skip
    assert sorted(found.splits) == ["eval", "train", "valid"]
    table = open_dataset(graded_dataset).read("eval", columns=["query_id", "label"])
    expected = split_query_counts(table.column("query_id").to_numpy(),
                                  table.column("label").to_numpy())  # fmt: skip
    assert found.splits["eval"] == expected
    assert found.splits["eval"].no_relevant > 0  # the synthetic data has such queries
    assert found.splits["valid"].queries == record.validation.queries  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"evaluation": {"ndcg": {"gain": "label_gain"}}},
         "evaluation.ndcg.gain 'label_gain' needs params.label_gain"),
        ({"params": {"label_gain": "0,1,x"}}, "params.label_gain: expected numbers"),
        ({"evaluation": {"ndcg": {"no_relevant": "none"}}},
         "evaluation.ndcg.no_relevant: Input should be 'one', 'zero' or 'exclude'"),
        ({"evaluation": {"ndcg": {"short": "exclude"}}},
         "evaluation.ndcg.short: unknown key 'short'"),
        ({"params": {"label_gain": [0, 1]}},
         "params.label_gain: 2 gains cover labels 0..1, but the "),
    ],
)  # fmt: skip
def test_bad_evaluation_block_is_one_line_from_the_cli(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path,
    fields: dict[str, Any], message: str,
) -> None:  # fmt: skip
    spec = make_spec(graded_dataset, **fields)
    result = run_cli("train", spec, "--name", "bad", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tessera-lab: error: {spec}: "), lines
    assert message in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()
