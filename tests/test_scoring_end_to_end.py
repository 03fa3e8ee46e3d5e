"""Lab -> serving end to end: a lab-written dataset, trained, registered, scored, re-scored.

Everything runs through the two CLIs in subprocesses, on a real SQLite registry: the served
scores must equal LightGBM's own ``Booster.predict`` on the eval matrix bit for bit, a
drifted input must fall back to ``base_score`` (with the mismatch recorded), and the stored
scores must re-score under a second registration.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow.parquet as pq
import pytest

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY, load_run_record

SPEC = """\
dataset: dataset
feature_families: [alignment, annotation_meta, knn, length, taxonomy]
objective: lambdarank
protocol: {cells: pooled, snapshots: all}
weighting: none
params: {learning_rate: 0.1, num_leaves: 15, min_data_in_leaf: 20}
num_boost_round: 25
seed: 3
num_threads: 1
gate: {metric: ndcg@10, min_lift: -1.0}
license: {id: Apache-2.0, url: "https://www.apache.org/licenses/LICENSE-2.0"}
"""


@pytest.mark.slow
def test_lab_dataset_trains_registers_scores_and_rescores(tmp_path: Path, tessera: Any) -> None:
    work = tmp_path
    run = functools.partial(tessera, work)
    run("tessera-lab", "dataset", "synth", "dataset", "--rows=3000", "--seed=5")
    (work / "spec.yaml").write_text(SPEC)
    run("tessera-lab", "train", "spec.yaml", "--name", "e2e", "--runs-dir", "runs", "--quiet")
    run("tessera-serve", "db", "upgrade")
    run("tessera-serve", "schemas", "add", "--manifest", "dataset/manifest.json")
    run("tessera-serve", "register", "runs/e2e")
    eval_path = work / "dataset" / "eval.parquet"
    scored = run(
        "tessera-serve",
        "score",
        "--model",
        "e2e#1",  # registered, not promoted: named explicitly
        "--input",
        str(eval_path),
        "--output",
        "scores.parquet",
        "--store",
        "--backend",
        "lightgbm",
        "--threads",
        "1",
        "--json",
        "--fail-on-fallback",
    )
    job_id = json.loads(scored.stdout)["job_id"]

    record = load_run_record(work / "runs" / "e2e" / "run.json")
    eval_table = pq.read_table(eval_path)
    matrix = np.column_stack(
        [
            eval_table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in record.feature_names
        ]
    )
    booster = lgb.Booster(model_file=str(work / "runs" / "e2e" / "model.txt"))
    expected = booster.predict(matrix, num_threads=1)
    out = pq.read_table(work / "scores.parquet")
    assert out.num_rows == eval_table.num_rows
    assert out.column("query_id").equals(eval_table.column("query_id"))
    assert np.array_equal(out.column("score").to_numpy(), expected)
    assert set(out.column("source").to_pylist()) == {"reranker"}
    events = [
        json.loads(line)
        for line in run("tessera-serve", "events", str(job_id), "--json").stdout.splitlines()
    ]
    assert [e["event"] for e in events if e["event"].startswith("reranker.")] == [
        "reranker.applied"
    ]

    # A deliberate drift: one feature column renamed in the declared schema and the file.
    schema = json.loads(eval_table.schema.metadata[FEATURE_SCHEMA_METADATA_KEY.encode()])
    family = sorted(schema)[0]
    old = schema[family][0]
    schema[family][0] = old + "_v2"
    drifted = eval_table.rename_columns(
        [old + "_v2" if c == old else c for c in eval_table.column_names]
    )
    drifted = drifted.replace_schema_metadata(
        {FEATURE_SCHEMA_METADATA_KEY.encode(): json.dumps(schema).encode()}
    )
    pq.write_table(drifted, work / "drifted.parquet")
    fell = run(
        "tessera-serve",
        "score",
        "--model",
        "e2e#1",  # registered, not promoted: named explicitly
        "--input",
        "drifted.parquet",
        "--output",
        "drifted-scores.parquet",
        "--backend",
        "lightgbm",
        "--json",
        "--fail-on-fallback",
        ok=(3,),
    )
    fallback = pq.read_table(work / "drifted-scores.parquet")
    assert np.array_equal(
        fallback.column("score").to_numpy(), eval_table.column("base_score").to_numpy()
    )
    assert "reranker.schema_mismatch" in json.loads(fell.stdout)["events"]

    # Re-score the stored scores under a second registration of the same model name.
    (work / "spec.yaml").write_text(
        SPEC.replace("seed: 3", "seed: 4").replace("num_boost_round: 25", "num_boost_round: 10")
    )
    run(
        "tessera-lab",
        "train",
        "spec.yaml",
        "--name",
        "e2e-v2",
        "--runs-dir",
        "runs",
        "--quiet",
    )
    run("tessera-serve", "register", "runs/e2e-v2", "--name", "e2e")
    rescored = json.loads(
        run(
            "tessera-serve", "rescore", "--model", "e2e#2", "--backend", "lightgbm", "--json"
        ).stdout
    )
    assert rescored["rescored"] == eval_table.num_rows and rescored["resumed"] is False
    assert rescored["events"] == ["model.explicit_version", "reranker.applied"]
