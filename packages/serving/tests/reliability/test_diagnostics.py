"""What an operator reads: column drift on guard events, why a re-score changed nothing,
jobs, stored scores and their audit trail, and the event-line switch (real CLI, SQLite).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from scoring.conftest import Booster, make_booster, register, write_candidates

from tessera_serving.registry import Registry
from tessera_serving.scoring.score_job import ScoreOptions, run_score_job

from .conftest import LGB_FLAGS, json_lines

STORE = ScoreOptions(backend="lightgbm", num_threads=1, store=True)
DRIFTED = {"knn": ["knn_score", "knn_votes", "knn_rank"], "length": ["query_len"]}


def test_schema_mismatch_names_the_columns_that_drifted(
    sqlite_cli: Any, sqlite_registry: Registry, booster: Booster, tmp_path: Path, table: pa.Table
) -> None:
    register(sqlite_registry, booster)
    drifted = table.append_column("knn_rank", table.column("knn_votes"))
    path = write_candidates(tmp_path / "in.parquet", drifted, feature_schema=DRIFTED)
    out = tmp_path / "out.parquet"
    result = sqlite_cli("score", "--model", "rr", "--input", path, "--output", out, *LGB_FLAGS,
                        "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = {
        "missing_columns": {"length": ["len_ratio"]},
        "extra_columns": {"knn": ["knn_rank"]},
    }
    logged = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    (line,) = [e for e in logged if e["event"] == "reranker.schema_mismatch"]
    assert {k: line[k] for k in expected} == expected
    job_id = json.loads(result.stdout)["job_id"]
    events = json_lines(sqlite_cli("events", str(job_id), "--json").stdout)
    (stored,) = [e for e in events if e["event"] == "reranker.schema_mismatch"]
    assert {k: stored[k] for k in expected} == expected
    human = sqlite_cli("events", str(job_id)).stdout
    assert 'missing_columns={"length": ["len_ratio"]}' in human


def _rescore(cli: Any, *extra: str) -> tuple[dict[str, Any], str]:
    """The JSON and the human summary of the same rescore (job ids masked: two runs)."""
    args = ("rescore", "--model", "rr#2", *LGB_FLAGS, *extra)
    as_json, human = cli(*args, "--json"), cli(*args)
    assert as_json.returncode == 0 and human.returncode == 0, as_json.stderr + human.stderr
    summary = json.loads(as_json.stdout)
    summary["nothing_changed_because"] = [
        re.sub(r"events \d+", "events N", r) for r in summary["nothing_changed_because"]
    ]
    return summary, re.sub(r"events \d+", "events N", human.stdout)


def test_a_rescore_that_changes_nothing_says_why_in_both_forms(
    sqlite_cli: Any, sqlite_registry: Registry, booster: Booster, tmp_path: Path, table: pa.Table
) -> None:
    register(sqlite_registry, booster)
    register(sqlite_registry, make_booster(table, rounds=4, seed=8), version=2,
             schema_sha_v2="abcdefabcdef")  # fmt: skip
    summary, human = _rescore(sqlite_cli)
    (reason,) = summary["nothing_changed_because"]
    assert reason.startswith("no stored scores of model 'rr'")
    assert f"nothing changed: {reason}" in human
    path = write_candidates(tmp_path / "in.parquet", table)
    first = run_score_job(sqlite_registry, "rr", path, tmp_path / "o1.parquet", STORE)
    summary, human = _rescore(sqlite_cli)
    (reason,) = summary["nothing_changed_because"]
    assert "not scored by the model (reranker.schema_mismatch" in reason
    assert f"nothing changed: {reason}" in human
    run_score_job(sqlite_registry, "rr", path, tmp_path / "o2.parquet", STORE)  # supersedes
    register(sqlite_registry, make_booster(table, rounds=3, seed=2), version=3)
    args = ("rescore", "--model", "rr#3", "--jobs", str(first.job_id), *LGB_FLAGS)
    as_json, as_text = sqlite_cli(*args, "--json"), sqlite_cli(*args)
    (reason,) = json.loads(as_json.stdout)["nothing_changed_because"]
    assert reason == (
        f"every score stored by job(s) [{first.job_id}] was superseded: "
        "a later score job stored them again"
    )
    assert f"nothing changed: {reason}" in as_text.stdout


def test_jobs_list_filters_and_scores_read_back(
    sqlite_cli: Any, sqlite_registry: Registry, booster: Booster, tmp_path: Path, table: pa.Table
) -> None:
    register(sqlite_registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    stored = run_score_job(sqlite_registry, "rr", path, tmp_path / "o.parquet", STORE)
    plain = run_score_job(sqlite_registry, "rr", path, tmp_path / "p.parquet",
                          ScoreOptions(backend="lightgbm", num_threads=1))  # fmt: skip
    listed = json_lines(sqlite_cli("jobs", "list", "--kind", "score", "--json").stdout)
    assert [j["id"] for j in listed] == [plain.job_id, stored.job_id]
    assert json_lines(sqlite_cli("jobs", "list", "--status", "failed", "--json").stdout) == []
    assert json_lines(sqlite_cli("jobs", "list", "--model", "other", "--json").stdout) == []
    human = sqlite_cli("jobs", "list").stdout.splitlines()
    assert human[0].split()[:3] == ["ID", "KIND", "STATUS"] and len(human) == 3
    bad = sqlite_cli("jobs", "list", "--status", "bogus")
    assert bad.returncode == 2 and "--status" in bad.stderr
    q, c = table.column("query_id")[0].as_py(), table.column("candidate_id")[0].as_py()
    (score,) = json_lines(sqlite_cli("scores", "show", "--model", "rr", "--query", q,
                                     "--candidate", c, "--json").stdout)  # fmt: skip
    assert score["job_id"] == stored.job_id and score["model_sha256"] == booster.sha256
    trail = json_lines(sqlite_cli("scores", "audit", "--model", "rr", "--query", q,
                                  "--candidate", c, "--json").stdout)  # fmt: skip
    assert [(a["job_id"], a["previous_score"]) for a in trail] == [(stored.job_id, None)]
    of_job = json_lines(sqlite_cli("scores", "audit", "--job", str(stored.job_id), "--json").stdout)
    assert len(of_job) == table.num_rows
    missing = sqlite_cli("scores", "show", "--model", "rr", "--query", "nope")
    assert missing.returncode == 1 and "no stored score" in missing.stderr
    assert sqlite_cli("scores", "audit", "--model", "rr").returncode == 2


@pytest.mark.parametrize(("flags", "levels"), [([], {"info"}), (["--quiet"], set()),
                                               (["--log-level", "warning"], set())])  # fmt: skip
def test_event_lines_follow_quiet_and_log_level(
    sqlite_cli: Any,
    sqlite_registry: Registry,
    booster: Booster,
    tmp_path: Path,
    table: pa.Table,
    flags: list[str],
    levels: set[str],
) -> None:
    register(sqlite_registry, booster)
    path = write_candidates(tmp_path / "in.parquet", table)
    result = sqlite_cli("score", "--model", "rr", "--input", path, "--output",
                        tmp_path / "o.parquet", *LGB_FLAGS, *flags)  # fmt: skip
    assert result.returncode == 0, result.stderr
    logged = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    assert {e["level"] for e in logged} == levels
