"""Lab -> registry custody: runs written by ``tessera-lab train`` register, verify and promote.

Through both CLIs in subprocesses on a real SQLite registry: a pooled run and a
per-category run set register (the set as one model version with a row per category),
registering again changes nothing, ``verify`` passes, the pooled and per-category models
promote, and a smoke run is refused promotion with the reason.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

SPEC = """\
dataset: dataset
feature_families: [alignment, annotation_meta, knn, length, taxonomy]
objective: lambdarank
protocol: {{cells: {cells}, snapshots: all}}
weighting: none
params: {{learning_rate: 0.1, num_leaves: 7, min_data_in_leaf: 10}}
num_boost_round: 12
seed: 3
num_threads: 1
gate: {{metric: ndcg@10, min_lift: -1.0}}
license: {{id: Apache-2.0, url: "https://www.apache.org/licenses/LICENSE-2.0"}}
"""


@pytest.mark.slow
def test_lab_runs_register_verify_and_promote(tmp_path: Path, tessera: Any) -> None:
    work = tmp_path
    run = functools.partial(tessera, work)
    run("tessera-lab", "dataset", "synth", "dataset", "--rows=6000", "--seed=7")
    (work / "pooled.yaml").write_text(SPEC.format(cells="pooled"))
    (work / "cats.yaml").write_text(SPEC.format(cells="per_category"))
    run("tessera-lab", "train", "pooled.yaml", "--name", "pool", "--quiet")
    run("tessera-lab", "train", "cats.yaml", "--name", "cat", "--quiet")
    run("tessera-lab", "train", "pooled.yaml", "--name", "quick", "--smoke", "--quiet")
    categories = json.loads((work / "dataset" / "manifest.json").read_text())["categories"]
    cell_dirs = sorted(p.name for p in (work / "runs").glob("cat--*"))
    assert len(cell_dirs) == len(categories) > 1

    run("tessera-serve", "db", "upgrade")
    refused = run("tessera-serve", "register", "runs/pool", ok=(1,))
    assert "matches no known live feature schema" in refused.stderr
    run("tessera-serve", "schemas", "add", "--manifest", "dataset/manifest.json")
    registered = run("tessera-serve", "register", "runs/pool", "runs/cat", "runs/quick")
    assert registered.stdout.splitlines() == [
        "registered pool#1 (pooled)",
        f"registered cat#1 ({len(categories)} cells: {', '.join(sorted(categories))})",
        "registered quick#1 (pooled)",
    ]
    again = run("tessera-serve", "register", "runs/cat")
    assert again.stdout.strip().startswith("already registered as cat#1")

    verified = run("tessera-serve", "verify")
    assert f"{2 + len(categories)} model row(s) in 3 version(s)" in verified.stdout

    assert run("tessera-serve", "promote", "pool").stdout.strip() == (
        "promoted pool#1 to production"
    )
    assert run("tessera-serve", "promote", "cat").stdout.strip() == ("promoted cat#1 to production")
    smoke = run("tessera-serve", "promote", "quick", ok=(1,))
    assert "quick#1: is a smoke run (smoke: true)" in smoke.stderr
    assert smoke.stderr.count("\n") == 1

    shown = json.loads(run("tessera-serve", "models", "show", "cat@production").stdout)
    assert sorted(row["cell"] for row in shown["rows"]) == sorted(categories)
    run_json = json.loads((work / "runs" / cell_dirs[0] / "run.json").read_text())
    first = next(row for row in shown["rows"] if row["run_name"] == run_json["name"])
    assert first["artifact_sha256"] == run_json["model"]["sha256"]
    assert first["schema_sha_v2"] == run_json["schema_sha"]
    assert first["feature_names"] == run_json["feature_names"]
    run("tessera-serve", "verify")
