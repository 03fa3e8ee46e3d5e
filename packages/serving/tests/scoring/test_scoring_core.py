"""The scoring core over record batches: exact scores, ranks, per-query fallback, carry-over."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tessera_serving.errors import ScoringError
from tessera_serving.scoring import events as ev
from tessera_serving.scoring.scorer import ScoreStats, score_batches

from .conftest import (
    FEATURE_SCHEMA,
    SCHEMA_SHA,
    Booster,
    candidates_table,
    make_booster,
    scoring_model,
)


def run(
    model: Any, table: pa.Table, batch_size: int = 64, **kw: Any
) -> tuple[pa.Table, list[ev.Event], ScoreStats]:
    log = ev.EventLog()
    stats = ScoreStats()
    batches = table.to_batches(max_chunksize=batch_size)
    out = list(score_batches(model, batches, events=log, stats=stats, **kw))
    return pa.Table.from_batches(out) if out else pa.table({}), log.events, stats


def with_schema(table: pa.Table) -> pa.Table:
    import json

    meta = {b"tessera.feature_schema": json.dumps(FEATURE_SCHEMA).encode()}
    return table.replace_schema_metadata(meta)


def reference_ranks(qids: list[Any], scores: list[float]) -> list[int]:
    """Rank within each query by score desc, ties by input order: written from the spec."""
    rows = defaultdict(list)
    for i, q in enumerate(qids):
        rows[q].append(i)
    ranks = [0] * len(qids)
    for idx in rows.values():
        for r, i in enumerate(sorted(idx, key=lambda i: (-scores[i], i)), start=1):
            ranks[i] = r
    return ranks


def test_applied_scores_are_bit_identical_to_booster_predict(
    table: pa.Table, booster: Booster
) -> None:
    model = scoring_model({booster.cell(): booster})
    out, events, stats = run(model, with_schema(table))
    assert out.num_rows == table.num_rows
    assert out.column("query_id").equals(table.column("query_id"))
    assert out.column("candidate_id").equals(table.column("candidate_id"))
    scores = out.column("score").to_numpy()
    assert np.array_equal(scores, booster.predict(table))  # NaN features included
    assert set(out.column("source").to_pylist()) == {"reranker"}
    assert set(out.column("model_sha256").to_pylist()) == {booster.sha256}
    qids = table.column("query_id").to_pylist()
    assert out.column("rank").to_pylist() == reference_ranks(qids, scores.tolist())
    assert [e.name for e in events] == [ev.APPLIED]
    assert events[0].level == "info"
    assert events[0].fields["reranker_model_id"] == 1
    assert events[0].fields["schema_sha"] == SCHEMA_SHA
    assert events[0].fields["rows"] == table.num_rows
    assert stats.by_source == {"reranker": table.num_rows, "fallback": 0}


@pytest.mark.parametrize("batch_size", [1, 2, 7, 64, 100_000])
def test_queries_spanning_batches_give_the_same_output(
    table: pa.Table, booster: Booster, batch_size: int
) -> None:
    model = scoring_model({booster.cell(): booster})
    whole, _, _ = run(model, with_schema(table), batch_size=100_000)
    split, _, _ = run(model, with_schema(table), batch_size=batch_size)
    assert split.equals(whole)


def test_file_column_order_does_not_matter(table: pa.Table, booster: Booster) -> None:
    model = scoring_model({booster.cell(): booster})
    shuffled = table.select(list(reversed(table.column_names)))
    out, _, _ = run(model, with_schema(shuffled))
    assert np.array_equal(out.column("score").to_numpy(), booster.predict(table))


def test_null_and_integer_features_are_cast_and_nulls_stay_missing(
    table: pa.Table, booster: Booster
) -> None:
    model = scoring_model({booster.cell(): booster})
    votes = pc.cast(table.column("knn_votes"), pa.int32())
    mask = pa.array(np.arange(table.num_rows) % 7 == 0)
    score = pc.if_else(mask, pa.scalar(None, pa.float64()), table.column("knn_score"))
    changed = table.set_column(table.schema.get_field_index("knn_votes"), "knn_votes", votes)
    changed = changed.set_column(changed.schema.get_field_index("knn_score"), "knn_score", score)
    out, _, _ = run(model, with_schema(changed))
    reference = changed.set_column(
        changed.schema.get_field_index("knn_score"), "knn_score", pc.fill_null(score, np.nan)
    )
    assert np.array_equal(out.column("score").to_numpy(), booster.predict(reference))


def test_ties_rank_by_input_order(booster: Booster) -> None:
    t = pa.table(
        {
            "query_id": ["q", "q", "q", "r", "r"],
            "candidate_id": ["a", "b", "c", "d", "e"],
            "base_score": [0.5, 0.9, 0.5, 1.0, 1.0],
        }
    )
    model = scoring_model({booster.cell(): booster})
    out, events, _ = run(model, t)  # no feature schema: fallback to base_score
    assert out.column("rank").to_pylist() == [2, 1, 3, 1, 2]
    assert out.column("score").to_pylist() == [0.5, 0.9, 0.5, 1.0, 1.0]
    assert events[0].fields["reason"] == ev.NO_FEATURE_SCHEMA


def fallback_checks(out: pa.Table, table: pa.Table) -> None:
    assert out.num_rows == table.num_rows
    assert np.array_equal(out.column("score").to_numpy(), table.column("base_score").to_numpy())
    assert set(out.column("source").to_pylist()) == {"fallback"}
    assert out.column("model_sha256").null_count == table.num_rows


def test_schema_mismatch_falls_back_and_records_the_fingerprints(
    table: pa.Table, booster: Booster
) -> None:
    model = scoring_model({booster.cell(): booster})
    live = {"knn": ["knn_score", "knn_votes"], "length": ["query_len"]}
    out, events, stats = run(model, table, feature_schema=live)
    fallback_checks(out, table)
    (event,) = events
    assert event.name == ev.SCHEMA_MISMATCH and event.level == "error"
    assert event.fields["expected_sha"] == SCHEMA_SHA
    assert event.fields["live_sha"] != SCHEMA_SHA
    assert event.fields["reranker_model_id"] == 1
    assert stats.by_source["fallback"] == table.num_rows


def test_caller_schema_overrides_the_metadata(table: pa.Table, booster: Booster) -> None:
    model = scoring_model({booster.cell(): booster})
    out, events, _ = run(model, table, feature_schema=FEATURE_SCHEMA)
    assert [e.name for e in events] == [ev.APPLIED]
    assert np.array_equal(out.column("score").to_numpy(), booster.predict(table))


@pytest.mark.parametrize(
    ("kwargs", "cell_kwargs", "reason"),
    [
        ({}, {"schema_sha_v2": None}, ev.SCHEMA_SHA_V2_MISSING),
        ({"require_stage": "production"}, {"stage": "staging"}, ev.MODEL_NOT_PRODUCTION),
    ],
)
def test_skipped_paths(
    table: pa.Table,
    booster: Booster,
    kwargs: dict[str, Any],
    cell_kwargs: dict[str, Any],
    reason: str,
) -> None:
    loads: list[int] = []
    model = scoring_model({booster.cell(**cell_kwargs): booster})
    original = model._load
    model._load = lambda c: (loads.append(c.model_id), original(c))[1]  # type: ignore[method-assign]
    out, events, _ = run(model, with_schema(table), **kwargs)
    fallback_checks(out, table)
    assert [(e.name, e.level, e.fields["reason"]) for e in events] == [
        (ev.SKIPPED, "warning", reason)
    ]
    assert loads == []  # a refused booster is never loaded


def test_missing_feature_column_falls_back(table: pa.Table, booster: Booster) -> None:
    model = scoring_model({booster.cell(): booster})
    out, events, _ = run(model, with_schema(table.drop_columns(["len_ratio"])))
    fallback_checks(out, table)
    assert events[0].fields["reason"] == ev.FEATURE_COLUMNS_MISSING
    assert events[0].fields["columns"] == ["len_ratio"]


def test_invalid_declared_schema_is_skipped_not_crashed(table: pa.Table, booster: Booster) -> None:
    model = scoring_model({booster.cell(): booster})
    bad = table.replace_schema_metadata({b"tessera.feature_schema": b"{not json"})
    out, events, _ = run(model, bad)
    fallback_checks(out, table)
    assert events[0].fields["reason"] == ev.INVALID_FEATURE_SCHEMA


def test_per_category_model_never_half_reranks_a_query(booster: Booster) -> None:
    table = with_schema(pa.table(_three_category_table()))
    b_booster = make_booster(table, rounds=10, seed=7)
    model = scoring_model(
        {booster.cell(1, cell="a"): booster, b_booster.cell(2, cell="b"): b_booster}
    )
    out, events, stats = run(model, table, batch_size=5)
    cats = table.column("category").to_pylist()
    qids = table.column("query_id").to_pylist()
    blocked = {q for q, c in zip(qids, cats, strict=True) if c == "c"}
    expect_a, expect_b = booster.predict(table), b_booster.predict(table)
    base = table.column("base_score").to_pylist()
    for i, row in enumerate(out.to_pylist()):
        if qids[i] in blocked:
            assert (row["source"], row["score"], row["model_sha256"]) == ("fallback", base[i], None)
        else:
            want = expect_a[i] if cats[i] == "a" else expect_b[i]
            sha = booster.sha256 if cats[i] == "a" else b_booster.sha256
            assert (row["source"], row["score"], row["model_sha256"]) == ("reranker", want, sha)
    names = [(e.name, e.fields.get("reason")) for e in events]
    assert names == [(ev.APPLIED, None), (ev.APPLIED, None), (ev.SKIPPED, ev.NO_BOOSTER_FOR_CELL)]
    assert events[2].fields["categories"] == {"c": cats.count("c")}
    in_blocked = [c for q, c in zip(qids, cats, strict=True) if q in blocked]
    assert events[0].fields["rows_demoted"] == in_blocked.count("a")
    assert stats.by_source["fallback"] == len(in_blocked)


def test_per_category_refused_cell_blocks_its_queries(booster: Booster) -> None:
    table = with_schema(pa.table(_three_category_table(categories=("a", "b"))))
    model = scoring_model(
        {
            booster.cell(1, cell="a"): booster,
            booster.cell(2, cell="b", schema_sha_v2="0" * 12): booster,
        }
    )
    out, events, _ = run(model, table)
    qids = table.column("query_id").to_pylist()
    cats = table.column("category").to_pylist()
    has_b = {q for q, c in zip(qids, cats, strict=True) if c == "b"}
    sources = out.column("source").to_pylist()
    assert all((s == "fallback") == (q in has_b) for q, s in zip(qids, sources, strict=True))
    assert [e.name for e in events] == [ev.SCHEMA_MISMATCH, ev.APPLIED]


def test_integer_query_ids_and_dictionary_categories(booster: Booster) -> None:
    raw = _three_category_table(categories=("a",), string_ids=False)
    raw["category"] = pa.array(raw["category"]).dictionary_encode()
    table = with_schema(pa.table(raw))
    model = scoring_model({booster.cell(1, cell="a"): booster})
    out, _, _ = run(model, table, batch_size=3)
    assert out.schema.field("query_id").type == pa.int64()
    assert np.array_equal(out.column("score").to_numpy(), booster.predict(table))


def test_empty_input_yields_nothing(booster: Booster) -> None:
    model = scoring_model({booster.cell(): booster})
    assert list(score_batches(model, [])) == []


def _three_category_table(
    categories: tuple[str, ...] = ("a", "b", "c"), string_ids: bool = True
) -> dict[str, Any]:
    from .conftest import candidates_table

    t = candidates_table(n_queries=30, seed=5, categories=categories, string_ids=string_ids)
    return {name: t.column(name) for name in t.column_names}


@pytest.mark.parametrize(("n", "groups"), [(1, 1), (1000, 7), (70_000, 66_000)])
def test_rank_order_is_lexsort_with_ties_and_nans(n: int, groups: int) -> None:
    from tessera_serving.scoring.scorer import rank_order

    rng = np.random.default_rng(n)
    score = rng.integers(0, 5, n).astype(np.float64)  # many ties
    score[rng.random(n) < 0.1] = np.nan
    group = np.sort(rng.integers(0, groups, n)).astype(np.int64)
    assert np.array_equal(rank_order(score, group), np.lexsort((-score, group)))


@pytest.mark.parametrize("string_ids", [True, False])
@pytest.mark.parametrize("batch_size", [7, 64, 10_000])
def test_a_query_that_comes_back_is_refused_naming_both_row_ranges(
    booster: Booster, string_ids: bool, batch_size: int
) -> None:
    """Sorted ids up to the repeat (the fast path), then one earlier query again."""
    table = with_schema(candidates_table(n_queries=30, string_ids=string_ids))
    qids = table.column("query_id").to_pylist()
    first = qids.index(qids[40])  # the query holding row 40
    last = len(qids) - 1 - qids[::-1].index(qids[40])
    again = pa.concat_tables([table, table.slice(first, 2)])
    model = scoring_model({booster.cell(): booster})
    message = (
        rf"rows of query {qids[40]!r} are not contiguous: rows {first}-{last} and again "
        rf"from row {len(qids)} "
    )
    with pytest.raises(ScoringError, match=message):
        run(model, again, batch_size=batch_size)
    descending = pa.concat_tables([table.slice(first), table.slice(0, first)])
    out, _, _ = run(model, descending, batch_size=batch_size)  # not sorted, but contiguous
    assert out.column("query_id").to_pylist() == descending.column("query_id").to_pylist()
