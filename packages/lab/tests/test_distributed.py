"""The dask engine on a real in-process ``LocalCluster`` (threads), against local training.

LightGBM's own tests of its Dask ranker accept a distributed model whose scores have a
Spearman rank correlation above 0.8 with the single-machine model's scores on the same
rows; the lab holds its dask engine to that tolerance, and to exact equality with one
worker (one machine: nothing is distributed, so the trees must be the same).
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr

from tessera_contracts import load_run_record
from tessera_lab.dataset import open_dataset
from tessera_lab.distributed import canonical_model_text, query_partitions
from tessera_lab.training import train_run

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., Any]
LIGHTGBM_DASK_RANKER_MIN_SPEARMAN = 0.8
NO_EARLY_STOPPING: dict[str, Any] = {"early_stopping": None, "num_boost_round": 20}


def dask_engine(workers: int) -> dict[str, Any]:
    return {"kind": "dask", "scheduler": "local", "workers": workers}


def trees(run: Path) -> str:
    text = (run / "model.txt").read_text("utf-8")
    return text[text.index("Tree=0") : text.index("end of trees")]


def eval_scores(run: Path, dataset: Path) -> np.ndarray[Any, Any]:
    booster = lgb.Booster(model_file=str(run / "model.txt"))
    table = open_dataset(dataset).read("eval")
    features = np.column_stack([table.column(n).to_numpy() for n in booster.feature_name()])
    return np.asarray(booster.predict(features, num_threads=1))


@pytest.fixture(scope="module")
def local_and_dask(
    graded_dataset: Path,
    spec_fields: Callable[..., dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """One local run and dask runs (1 worker, 2 workers twice) of the same spec and data."""
    root = tmp_path_factory.mktemp("dask")
    runs: dict[str, Path] = {}
    for name, engine in [
        ("local", "local"),
        ("one", dask_engine(1)),
        ("two", dask_engine(2)),
        ("two-again", dask_engine(2)),
    ]:
        spec = root / f"{name}.yaml"
        data = spec_fields(graded_dataset, engine=engine, **NO_EARLY_STOPPING)
        spec.write_text(yaml.safe_dump(data), encoding="utf-8")
        [runs[name]] = train_run(spec, name=name, runs_dir=root / "runs", quiet=True)
    return runs


def test_partitions_hold_whole_queries_and_balance_rows() -> None:
    sizes = np.array([5, 1, 7, 3, 3, 9, 2, 2, 4, 6])
    for parts in (1, 2, 3, 4, 10, 25):
        cuts = query_partitions(sizes, parts)
        assert 1 <= len(cuts) <= min(parts, len(sizes))
        assert cuts[0][0] == 0 and cuts[0][2] == 0
        assert cuts[-1][1] == sizes.sum() and cuts[-1][3] == len(sizes)
        for r0, r1, q0, q1 in cuts:
            assert q0 < q1 and r1 - r0 == sizes[q0:q1].sum()  # whole queries, never empty
        for before, after in itertools.pairwise(cuts):
            assert (before[1], before[3]) == (after[0], after[2])  # contiguous
    assert [c[1] - c[0] for c in query_partitions(np.full(8, 10), 4)] == [20, 20, 20, 20]


def test_model_text_loses_only_the_network_lines() -> None:
    text = "[tree_learner: data]\n[num_machines: 2]\n[local_listen_port: 40193]\n"
    text += "[machines: 10.0.0.1:40193,10.0.0.2:41811]\n[time_out: 120]\n"
    kept = "[tree_learner: data]\n[num_machines: 2]\n[time_out: 120]\n"
    assert canonical_model_text(text) == kept


def test_one_worker_trains_the_local_model(local_and_dask: dict[str, Path]) -> None:
    local, one = local_and_dask["local"], local_and_dask["one"]
    assert trees(one) == trees(local)
    assert load_run_record(one / "run.json").metrics == load_run_record(local / "run.json").metrics


def test_two_workers_match_local_within_lightgbm_tolerance(
    local_and_dask: dict[str, Path], graded_dataset: Path
) -> None:
    runs = ("local", "two")
    local, two = (local_and_dask[r] for r in runs)
    assert trees(two) != trees(local)  # two machines really trained it (bins from both)
    rho = spearmanr(eval_scores(two, graded_dataset), eval_scores(local, graded_dataset))
    assert rho.correlation > LIGHTGBM_DASK_RANKER_MIN_SPEARMAN
    ndcg = [load_run_record(local_and_dask[r] / "run.json").metrics.eval["ndcg@10"] for r in runs]
    assert abs(ndcg[1] - ndcg[0]) < 0.05


def test_dask_runs_keep_the_run_contract_and_record_the_engine(
    local_and_dask: dict[str, Path],
) -> None:
    local, two = local_and_dask["local"], local_and_dask["two"]
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in local.iterdir())
    record, base = load_run_record(two / "run.json"), load_run_record(local / "run.json")
    assert record.feature_names == base.feature_names and record.schema_sha == base.schema_sha
    assert record.dataset == base.dataset
    assert record.model.num_trees == record.model.best_iteration == 20
    text = (two / "model.txt").read_text("utf-8")
    assert "[num_machines: 2]" in text and "machines: " not in text.replace("num_machines", "")
    assert "local_listen_port" not in text
    resolved = yaml.safe_load((two / "spec.yaml").read_text("utf-8"))
    assert resolved["engine"] == {**dask_engine(2), "connect_timeout_s": 30.0}
    assert yaml.safe_load((local / "spec.yaml").read_text("utf-8"))["engine"] == {"kind": "local"}
    engine = json.loads((two / "report" / "engine.json").read_text("utf-8"))
    assert engine["kind"] == "dask" and engine["workers"] == 2
    assert engine["threads_per_worker"] == [1, 1]
    parts = engine["partitions"]
    assert len(parts) == 2 and sum(p["rows"] for p in parts) == record.dataset.train_rows
    assert not (local / "report" / "engine.json").exists()
    assert record.engine is not None and record.engine.to_plain() == {
        "kind": "dask", "scheduler": "local", "workers": 2,
    }  # fmt: skip
    assert base.engine is not None and base.engine.kind == "local"


def test_dask_engine_is_deterministic(local_and_dask: dict[str, Path]) -> None:
    first, again = local_and_dask["two"], local_and_dask["two-again"]
    assert (first / "model.txt").read_bytes() == (again / "model.txt").read_bytes()


def test_dask_per_category_and_binary(
    binary_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec(
        binary_dataset, objective="binary", protocol={"cells": "per_category"},
        engine=dask_engine(2), gate={"metric": "roc_auc", "min_lift": 0.0}, **NO_EARLY_STOPPING,
    )  # fmt: skip
    runs = train_run(spec, name="cells", runs_dir=tmp_path / "runs", quiet=True)
    assert len(runs) > 1
    for run in runs:
        record = load_run_record(run / "run.json")
        assert record.objective == "binary" and record.model.num_trees == 20
        assert "objective=binary" in (run / "model.txt").read_text("utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_scheduler_is_a_one_line_error(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    engine = {"kind": "dask", "scheduler": address, "connect_timeout_s": 2}
    spec = make_spec(graded_dataset, engine=engine, **NO_EARLY_STOPPING)
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs", "--name", "x", "--quiet")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tessera-lab: error: {spec}: engine.scheduler: cannot reach")
    assert address in lines[0]
    assert not (tmp_path / "runs" / "x").exists()


def test_dask_engine_with_early_stopping_is_a_spec_error(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, engine=dask_engine(2))
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"tessera-lab: error: {spec}: engine: the dask engine trains exactly num_boost_round "
        "rounds (LightGBM's Dask interface does not early-stop); set early_stopping: null"
    )


def test_cli_trains_on_a_local_cluster_with_a_clean_stdout(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, engine=dask_engine(2), **NO_EARLY_STOPPING)
    result = run_cli("train", spec, "--runs-dir", tmp_path / "runs", "--name", "cli")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {tmp_path / 'runs' / 'cli'}: ndcg@10 ")
    assert len(result.stdout.splitlines()) == 1  # no LightGBM network chatter on stdout
    assert "[LightGBM]" not in result.stderr
